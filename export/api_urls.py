from django.urls import path

from . import api

urlpatterns = [
    path("", api.ExportListView.as_view(), name="api-exports"),
    path("<str:public_id>/", api.ExportDetailView.as_view(), name="api-export"),
]
