from django.contrib import admin
from django.shortcuts import redirect
from django.templatetags.static import static
from django.urls import include, path, re_path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from annotation.media_views import serve_media
from config import health
from config.api_errors import api_not_found
from routing.urls import api_urlpatterns as routing_api_urls

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="arena:home", permanent=False)),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    # Browsers ask for /favicon.ico on pages without a <link rel=icon> (the API's JSON, files).
    path("favicon.ico", lambda request: redirect(static("favicon.svg"), permanent=True)),
    path("admin/", admin.site.urls),
    path("accounts/", include("accounts.urls")),
    path("accounts/", include("django.contrib.auth.urls")),
    path("arena/", include("arena.urls")),
    path("api/judges/", include("annotation.judge_api_urls")),
    path("api/", include("arena.api_urls")),
    path("campaigns/<slug:slug>/routing/", include("routing.urls")),
    path("campaigns/", include("annotation.urls")),
    path("api/", include("annotation.api_urls")),
    path("api/", include(routing_api_urls)),
    path("export/", include("export.urls")),
    # Stored media (random names); served to those allowed to see the comparison (annotation.media_access).
    re_path(r"^media/(?P<name>[a-z]/[0-9a-f]{32}\.[a-z0-9]{2,4})\Z", serve_media, name="media"),
    path("api/exports/", include("export.api_urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves Swagger UI's start-up script as a file: no inline script (CSP).
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="api-docs"),
    # Last: any other /api/ path is a JSON 404.
    re_path(r"^api/(?P<rest>(?s:.*))\Z", api_not_found, name="api-not-found"),
]
