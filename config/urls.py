from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from config import health

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="arena:home", permanent=False)),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("admin/", admin.site.urls),
    path("accounts/", include("django.contrib.auth.urls")),
    path("arena/", include("arena.urls")),
    path("api/judges/", include("annotation.judge_api_urls")),
    path("api/", include("arena.api_urls")),
    path("campaigns/<slug:slug>/routing/", include("routing.urls")),
    path("campaigns/", include("annotation.urls")),
    path("api/", include("annotation.api_urls")),
    path("api/", include("routing.api_urls")),
    path("export/", include("export.urls")),
    path("api/exports/", include("export.api_urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
]
