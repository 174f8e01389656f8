"""Exports over REST: start a job, follow it, list yours."""

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.exceptions import NotFound, PermissionDenied, ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from . import jobs, permissions, selectors
from .options import ExportOptionsError
from .serializers import ExportJobSerializer, StartExportSerializer


def _researcher(request):
    if not permissions.can_export(request.user):
        raise PermissionDenied("Only researchers and admins may export datasets.")


class ExportListView(APIView):
    throttle_scope = "exports"  # starting one (POST); listing is not counted

    @extend_schema(responses={200: ExportJobSerializer(many=True)}, summary="Your export jobs, newest first")
    def get(self, request):
        _researcher(request)
        jobs = selectors.jobs_visible_to(request.user)[:100]
        return Response(ExportJobSerializer(jobs, many=True, context={"request": request}).data)

    @extend_schema(
        request=StartExportSerializer,
        responses={202: ExportJobSerializer},
        summary="Start an export job (runs on the export worker; poll it for progress and files)",
    )
    def post(self, request):
        _researcher(request)
        data = StartExportSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            job = jobs.start_export_job(request.user, data.validated_data)
        except ExportOptionsError as exc:
            raise ValidationError({"detail": str(exc)}) from exc
        except permissions.ExportNotAllowed as exc:
            raise PermissionDenied(str(exc)) from exc
        return Response(
            ExportJobSerializer(job, context={"request": request}).data, status=status.HTTP_202_ACCEPTED
        )


class ExportDetailView(APIView):
    @extend_schema(responses={200: ExportJobSerializer}, summary="One export job: status, progress, files")
    def get(self, request, public_id):
        _researcher(request)
        try:
            job = selectors.jobs_visible_to(request.user).get(public_id=public_id)
        except (DjangoValidationError, ValueError, selectors.ExportJob.DoesNotExist) as exc:
            raise NotFound("No export job with this id is yours.") from exc
        return Response(ExportJobSerializer(job, context={"request": request}).data)
