"""The routing page of a campaign (settings and dashboard), the panel the campaign dashboard loads, and its chart."""

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from annotation import campaigns as campaign_services
from annotation.routing_records import RoutingInvalid, routing_of

from . import dashboard, services
from .forms import RoutingForm

NOT_FOUND = "There is no such campaign, or it is not shared with you."


def _not_found(request):
    return render(request, "annotation/problem.html", {"message": NOT_FOUND}, status=404)


@login_required
@require_http_methods(["GET", "POST"])
def routing_page(request, slug):
    campaign = campaign_services.managed_campaign(request.user, slug)
    if campaign is None:
        return _not_found(request)
    error, status = "", 200
    if request.method == "POST":
        form = RoutingForm(request.POST)
        if form.is_valid():
            try:
                services.configure(campaign, form.settings())
            except RoutingInvalid as exc:
                error, status = str(exc), 400
            else:
                return redirect("routing:page", slug=slug)
        else:
            error, status = "Some settings need fixing: see the messages next to them.", 400
    else:
        form = RoutingForm(initial=RoutingForm.initial_for(routing_of(campaign)))
    return render(
        request,
        "routing/page.html",
        {"campaign": campaign, "form": form, "error": error, **dashboard.routing_report(campaign)},
        status=status,
    )


@login_required
@require_GET
def panel(request, slug):
    campaign = campaign_services.managed_campaign(request.user, slug)
    if campaign is None:
        return HttpResponse(NOT_FOUND, status=404, content_type="text/plain")
    return render(
        request, "routing/_panel.html", {"campaign": campaign, **dashboard.routing_report(campaign)}
    )


@login_required
@require_GET
def chart(request, slug):
    campaign = campaign_services.managed_campaign(request.user, slug)
    if campaign is None:
        return HttpResponse(NOT_FOUND, status=404, content_type="text/plain")
    return HttpResponse(dashboard.chart_png(campaign), content_type="image/png")
