from django.urls import path

from . import views

app_name = "routing"

urlpatterns = [
    path("", views.routing_page, name="page"),
    path("panel/", views.panel, name="panel"),
    path("chart.png", views.chart, name="chart"),
]
