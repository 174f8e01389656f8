from django.urls import path

from . import api, views

app_name = "routing"

# Pages, under /campaigns/<slug>/routing/.
urlpatterns = [
    path("", views.routing_page, name="page"),
    path("panel/", views.panel, name="panel"),
    path("chart.png", views.chart, name="chart"),
]

# The API, under /api/ (no namespace, like the other apps' API names).
api_urlpatterns = [
    path("campaigns/<slug:slug>/routing/", api.RoutingSettingsView.as_view(), name="api-campaign-routing"),
    path(
        "campaigns/<slug:slug>/routing/decisions/",
        api.RoutingDecisionsView.as_view(),
        name="api-campaign-routing-decisions",
    ),
]
