"""The researcher's export page (htmx): start an export, watch it, download its files."""

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import FileResponse, Http404
from django.shortcuts import render
from django.views.decorators.http import require_GET, require_POST

from . import jobs as export_jobs
from . import permissions, selectors
from .options import (
    AGGREGATIONS,
    FILE_FORMATS,
    FORMATS,
    MARGINS,
    OPTION_NAMES,
    RANK_BREAKING,
    SOURCES,
    TIE_POLICIES,
    ExportOptionsError,
)

FORM_FIELDS = tuple(
    name for name in OPTION_NAMES if name != "campaigns"
)  # a campaign export has its own link


def _researcher(request):
    if not permissions.can_export(request.user):
        raise PermissionDenied("Only researchers and admins may export datasets.")


def _context(request, **extra):
    jobs = list(selectors.jobs_visible_to(request.user)[:50])
    return {
        "jobs": jobs,
        "campaigns": selectors.exportable_campaigns(request.user),
        "busy": any(job.status in ("queued", "running") for job in jobs),
        "choices": {
            "formats": FORMATS,
            "file_formats": FILE_FORMATS,
            "ties": TIE_POLICIES,
            "rank_breaking": RANK_BREAKING,
            "aggregations": AGGREGATIONS,
            "sources": SOURCES,
            "margins": MARGINS,
        },
        **extra,
    }


@login_required
@require_GET
def home(request):
    _researcher(request)
    # ?campaign=<slug> (the campaign dashboard's Export link) preselects that campaign
    return render(
        request, "export/home.html", _context(request, chosen_campaigns=request.GET.getlist("campaign"))
    )


@login_required
@require_GET
def jobs(request):
    _researcher(request)
    return render(request, "export/_jobs.html", _context(request))


@login_required
@require_POST
def start(request):
    _researcher(request)
    data = {key: request.POST.get(key, "") for key in FORM_FIELDS}
    data["blind_only"] = bool(request.POST.get("blind_only"))
    data["exclude_guests"] = bool(request.POST.get("exclude_guests"))
    data["campaigns"] = request.POST.getlist("campaigns")
    try:
        export_jobs.start_export_job(request.user, data)
    except ExportOptionsError as exc:
        return render(request, "export/_jobs.html", _context(request, error=str(exc)), status=400)
    except permissions.ExportNotAllowed as exc:
        return render(request, "export/_jobs.html", _context(request, error=str(exc)), status=403)
    return render(request, "export/_jobs.html", _context(request, started=True), status=201)


def _job(request, public_id):
    _researcher(request)
    try:
        return selectors.jobs_visible_to(request.user).get(public_id=public_id)
    except (ValidationError, ValueError, selectors.ExportJob.DoesNotExist):
        raise Http404("No export job with this id is yours.") from None


@login_required
@require_GET
def download_zip(request, public_id):
    """The whole finished export (data files and the dataset card) as one zip, built on disk once."""
    job = _job(request, public_id)
    path = export_jobs.job_zip_path(job)
    if path is None:
        raise Http404("This export has no files yet.")
    return FileResponse(
        open(path, "rb"), as_attachment=True, filename=f"prefarena-{job.format}-{job.public_id}.zip"
    )


@login_required
@require_GET
def download(request, public_id, name):
    job = _job(request, public_id)
    path = export_jobs.job_file_path(job, name)
    if path is None:
        raise Http404("This export has no such file.")
    return FileResponse(
        open(path, "rb"), as_attachment=True, filename=f"{job.public_id}-{name.replace('/', '-')}"
    )
