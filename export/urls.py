from django.urls import path

from . import views

app_name = "export"

urlpatterns = [
    path("", views.home, name="home"),
    path("jobs/", views.jobs, name="jobs"),
    path("start/", views.start, name="start"),
    path("jobs/<str:public_id>/files/<path:name>", views.download, name="download"),
    path("jobs/<str:public_id>/export.zip", views.download_zip, name="zip"),
]
