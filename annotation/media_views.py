"""``/media/<name>``: a stored image or video, to those allowed to see its comparison only."""

from django.http import FileResponse, Http404
from django.views.decorators.http import require_GET

from inference import media

from .media_access import visible_media


@require_GET
def serve_media(request, name):
    found = visible_media(request.user, name)
    if found is None:
        raise Http404("No such file.")
    try:
        handle = media.media_storage().open(name, "rb")
    except FileNotFoundError:
        raise Http404("No such file.") from None
    response = FileResponse(handle, content_type=media.content_type(name))
    # Private: never in a shared cache; the random name never changes its bytes.
    response["Cache-Control"] = "private, max-age=86400, immutable"
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Disposition"] = "inline"
    return response
