from django.urls import path, re_path

from . import views

app_name = "annotation"

urlpatterns = [
    path("", views.campaign_list, name="list"),
    path("new/", views.campaign_create, name="create"),
    path("rubrics/new/", views.rubric_create, name="rubric_create"),
    path("rubrics/<int:rubric_id>/revise/", views.rubric_create, name="rubric_revise"),
    path("profile/", views.profile, name="profile"),
    path("<slug:slug>/", views.annotate, name="annotate"),
    path("<slug:slug>/item/", views.next_item, name="next_item"),
    path("<slug:slug>/a/<int:assignment_id>/submit/", views.submit, name="submit"),
    path("<slug:slug>/a/<int:assignment_id>/skip/", views.skip, name="skip"),
    path("<slug:slug>/r/<int:assignment_id>/submit/", views.submit, {"repeat": True}, name="repeatsubmit"),
    path("<slug:slug>/r/<int:assignment_id>/skip/", views.skip, {"repeat": True}, name="repeatskip"),
    path("<slug:slug>/build/", views.build_items, name="build_items"),
    path("<slug:slug>/undo/", views.undo, name="undo"),
    path("<slug:slug>/mine/", views.my_judgments, name="mine"),
    path("<slug:slug>/mine/<int:assignment_id>/", views.revise, name="revise"),
    path("<slug:slug>/edit/", views.campaign_edit, name="edit"),
    path("<slug:slug>/import/", views.import_items, name="import"),
    path("<slug:slug>/dashboard/", views.dashboard, name="dashboard"),
    re_path(r"^(?P<slug>[-\w]+)/dashboard/(?P<kind>progress|strength)\.png$", views.chart, name="chart"),
    path("<slug:slug>/status/", views.set_status, name="status"),
    path("<slug:slug>/annotators/<int:user_id>/reopen/", views.reopen_annotator, name="reopen"),
    path("<slug:slug>/disagreements/", views.disagreements, name="disagreements"),
    path("<slug:slug>/disagreements/<int:item_id>/adjudicate/", views.adjudicate, name="adjudicate"),
]
