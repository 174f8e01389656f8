from django.urls import path

from . import api

urlpatterns = [
    path("campaigns/<slug:slug>/next/", api.NextView.as_view(), name="api-campaign-next"),
    path(
        "campaigns/<slug:slug>/assignments/<int:assignment_id>/submit/",
        api.SubmitView.as_view(),
        name="api-campaign-submit",
    ),
    path(
        "campaigns/<slug:slug>/assignments/<int:assignment_id>/skip/",
        api.SkipView.as_view(),
        name="api-campaign-skip",
    ),
    path(
        "campaigns/<slug:slug>/repeats/<int:assignment_id>/submit/",
        api.SubmitView.as_view(repeat=True),
        name="api-campaign-repeatsubmit",
    ),
    path(
        "campaigns/<slug:slug>/repeats/<int:assignment_id>/skip/",
        api.SkipView.as_view(repeat=True),
        name="api-campaign-repeatskip",
    ),
    path("campaigns/<slug:slug>/build-items/", api.BuildItemsView.as_view(), name="api-campaign-build-items"),
    path("campaigns/<slug:slug>/undo/", api.UndoView.as_view(), name="api-campaign-undo"),
    path("campaigns/<slug:slug>/agreement/", api.AgreementView.as_view(), name="api-campaign-agreement"),
    path("campaigns/<slug:slug>/import/", api.ImportView.as_view(), name="api-campaign-import"),
]
