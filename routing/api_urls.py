from django.urls import path

from . import api

urlpatterns = [
    path("campaigns/<slug:slug>/routing/", api.RoutingSettingsView.as_view(), name="api-campaign-routing"),
    path("campaigns/<slug:slug>/routing/decisions/", api.RoutingDecisionsView.as_view(), name="api-campaign-routing-decisions"),
]
