"""The OpenAPI schema tells every status an operation can answer, not only its successes.

Each error has the one shape of config.api_errors: {"detail": "<a sentence>", "errors": {...}}.
Which errors an operation can give follows from how DRF runs it, so they are added here once
rather than on every view: 400 where it reads input, 401 wherever a token may be sent (a wrong
token is refused even on public reads), 403 where a permission or the CSRF check applies, 404
where the path names an object, 415 where a body is parsed, 429 everywhere (the throttles in
settings). A view adds its own (409, 503, ...) with the class attribute ``error_statuses``."""

from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers
from rest_framework.permissions import AllowAny

ERROR_DESCRIPTIONS = {
    400: "The input is invalid; `detail` says what to fix (`errors`: per field).",
    401: "No valid credentials: the token is unknown, or none was sent.",
    403: "Signed in, but this role or user may not do this (or the CSRF check failed).",
    404: "No such object, or it is not shared with you.",
    409: "The request conflicts with the object's current state.",
    415: "Send the body in one of the documented content types.",
    429: "Too many requests; retry after the seconds in `Retry-After`.",
    503: "A dependency is briefly unavailable; retry after the seconds in `Retry-After`.",
}


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField(help_text="One sentence for people: what went wrong and what to fix.")
    errors = serializers.JSONField(  # type: ignore[assignment]  # shadows Serializer.errors by name only
        required=False, help_text="Validation errors per field, when there are several."
    )

    class Meta:
        ref_name = "Error"


class AutoSchema(SpectacularAutoSchema):
    def get_operation(self, path, path_regex, path_prefix, method, registry):
        operation = super().get_operation(path, path_regex, path_prefix, method, registry)
        if operation is None:
            return None
        responses = operation["responses"]
        for code in sorted(self._error_statuses(operation)):
            response = OpenApiResponse(response=ErrorSerializer, description=ERROR_DESCRIPTIONS[code])
            responses.setdefault(str(code), self._get_response_for_code(response, str(code)))
        for code, response in responses.items():
            if code[0] in "45" and "content" not in response:  # a view named the error but not its body
                described = OpenApiResponse(
                    response=ErrorSerializer, description=response.get("description", "")
                )
                responses[code] = self._get_response_for_code(described, code)
        return operation

    def _error_statuses(self, operation):
        params = operation.get("parameters", [])
        codes = {429}
        if self.method not in ("GET", "HEAD", "OPTIONS") or any(p["in"] == "query" for p in params):
            codes.add(400)
        if "requestBody" in operation:
            codes.add(415)
        if self.view.get_authenticators():
            codes.add(401)
        public = all(isinstance(p, AllowAny) for p in self.view.get_permissions())
        if not public or self.method not in ("GET", "HEAD", "OPTIONS"):
            codes.add(403)
        if any(p["in"] == "path" for p in params):
            codes.add(404)
        codes.update(getattr(self.view, "error_statuses", ()))
        return codes
