"""Campaign pages (htmx). Views parse input, call one service, render."""

import functools
import json
import secrets

from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from inference import media

from . import campaigns as campaign_services
from . import errors, pool_items, quality, queues, reports
from . import items as item_import
from .campaigns import CampaignForbidden
from .forms import BuildItemsForm, CampaignForm, ImportForm, ProfileForm, RubricForm, payload_from_form
from .models import AnnotatorProfile, Assignment, Campaign, CampaignItem, Rubric
from .rubrics import TEMPLATES, parse_spec, scale_points, validate_spec


def problem(request, message, status, target="#item-error"):
    """A 4xx with a sentence: into the page's message slot for htmx, as a page otherwise."""
    return errors.problem(request, message, status, target=target)


def refused(request, exc, target="#item-error"):
    """A domain error's page, at the status the error carries (annotation.errors)."""
    return errors.problem_for(request, exc, target=target)


def _visible(request, slug):
    """The campaign if the user may see it at all (404 otherwise, so slugs do not leak)."""
    campaign = get_object_or_404(Campaign.objects.select_related("rubric"), slug=slug)
    if not (
        campaign_services.can_manage(request.user, campaign)
        or campaign_services.can_annotate(request.user, campaign)
    ):
        return None
    return campaign


def _managed(request, slug):
    campaign = _visible(request, slug)
    if campaign is None or not campaign_services.can_manage(request.user, campaign):
        return None
    return campaign


NOT_FOUND = "There is no such campaign, or it is not shared with you."


def _not_found(request):
    return problem(request, NOT_FOUND, 404)


def campaign_view(manage=False, plain_not_found=False):
    """Open a campaign view: the campaign named by the URL's slug if the user may see it (manage it, with
    manage=True), else a 404 with a sentence (plain text with plain_not_found, for images). The view is
    called with the campaign in place of the slug."""

    def decorate(view):
        @functools.wraps(view)
        def wrapped(request, slug, *args, **kwargs):
            campaign = (_managed if manage else _visible)(request, slug)
            if campaign is None:
                if plain_not_found:
                    return HttpResponse(NOT_FOUND, status=404, content_type="text/plain")
                return _not_found(request)
            return view(request, campaign, *args, **kwargs)

        return wrapped

    return decorate


@login_required
@require_GET
def campaign_list(request):
    rows = []
    for campaign in campaign_services.visible_campaigns(request.user):
        rows.append(
            {
                "campaign": campaign,
                "manage": campaign_services.can_manage(request.user, campaign),
                "annotate": campaign_services.can_annotate(request.user, campaign),
                "progress": queues.progress(campaign, request.user),
            }
        )
    return render(
        request,
        "annotation/campaign_list.html",
        {
            "rows": rows,
            "can_create": campaign_services.can_create(request.user),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def campaign_create(request):
    if not campaign_services.can_create(request.user):
        return problem(request, "Only researchers and admins can create campaigns.", 403)
    # ?rubric=<id>: "Create a campaign with it" after saving a rubric preselects that rubric
    form = CampaignForm(
        request.POST or None,
        initial={"rubric": request.GET.get("rubric")} if request.GET.get("rubric") else None,
    )
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        groups = data.pop("annotator_groups")
        try:
            campaign = campaign_services.create_campaign(user=request.user, groups=groups, **data)
        except ValueError as exc:
            form.add_error(None, str(exc))
        else:
            return redirect("annotation:dashboard", slug=campaign.slug)
    status = 400 if request.method == "POST" else 200
    return render(
        request, "annotation/campaign_form.html", {"form": form, "title": "New campaign"}, status=status
    )


@login_required
@require_http_methods(["GET", "POST"])
@campaign_view(manage=True)
def campaign_edit(request, campaign):
    form = CampaignForm(request.POST or None, instance=campaign)
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        groups = data.pop("annotator_groups")
        try:
            campaign = Campaign.objects.get(pk=campaign.pk)
            campaign_services.update_campaign(campaign, user=request.user, groups=groups, **data)
        except ValueError as exc:
            form.add_error(None, str(exc))
        else:
            return redirect("annotation:dashboard", slug=campaign.slug)
    status = 400 if request.method == "POST" else 200
    return render(
        request,
        "annotation/campaign_form.html",
        {"form": form, "title": f"Edit {campaign.name}"},
        status=status,
    )


@login_required
@require_http_methods(["GET", "POST"])
def rubric_create(request, rubric_id=None):
    if not campaign_services.can_create(request.user):
        return problem(request, "Only researchers and admins can write rubrics.", 403)
    base = get_object_or_404(Rubric, pk=rubric_id) if rubric_id else None
    initial = (
        {"family": base.family, "description": base.description, "spec": json.dumps(base.spec, indent=2)}
        if base
        else {"spec": json.dumps(validate_spec({}), indent=2)}
    )
    form = RubricForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        if base:
            rubric = campaign_services.revise_rubric(
                base, data["spec_value"], user=request.user, description=data["description"]
            )
        else:
            rubric = campaign_services.create_rubric(
                data["family"], data["spec_value"], user=request.user, description=data["description"]
            )
        return render(request, "annotation/rubric_saved.html", {"rubric": rubric})
    status = 400 if request.method == "POST" else 200
    return render(
        request,
        "annotation/rubric_form.html",
        {
            "form": form,
            "base": base,
            "rubrics": Rubric.objects.all()[:50],
            "template_specs": {key: validate_spec(t["spec"]) for key, t in TEMPLATES.items()},
        },
        status=status,
    )


@login_required
@require_http_methods(["GET", "POST"])
@campaign_view(manage=True)
def import_items(request, campaign):
    form = ImportForm(request.POST or None, request.FILES or None)
    context = {"campaign": campaign, "form": form}
    status = 200
    if request.method == "POST":
        if not form.is_valid():
            status = 400
        else:
            data = form.cleaned_data
            upload_key = f"import-upload:{campaign.pk}:{request.user.pk}:{data['upload']}"
            content = data["file"].read() if data["file"] else cache.get(upload_key)
            if content is None:
                context["errors"], status = ["The file from the dry run has expired; choose it again."], 400
            else:
                try:
                    context["report"] = item_import.import_items(
                        campaign,
                        content,
                        data["format"],
                        dry_run=data["dry_run"],
                        user=request.user,
                    )
                except item_import.ImportInvalid as exc:
                    context["errors"], status = exc.errors, 400
                else:
                    if data["dry_run"]:  # keep the file, so the import is one click without choosing it again
                        token = secrets.token_urlsafe(16)
                        cache.set(f"import-upload:{campaign.pk}:{request.user.pk}:{token}", content, 3600)
                        context["upload"] = token
                    else:
                        cache.delete(upload_key)
    return render(request, "annotation/import.html", context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
@campaign_view(manage=True)
def build_items(request, campaign):
    """Items from response pools or prompts × models (answers that already exist; nothing is generated)."""
    form = BuildItemsForm(request.POST if request.method == "POST" else None)
    context = {"campaign": campaign, "form": form}
    status = 200
    if request.method == "POST":
        if not form.is_valid():
            status = 400
        else:
            data = form.cleaned_data
            try:
                context["report"] = pool_items.build_items(
                    campaign,
                    pool=data["pool"],
                    prompts=data["prompt_ids"],
                    models=data["model_names"],
                    seed=data["seed"],
                    dry_run=data["dry_run"],
                    user=request.user,
                )
            except (ValueError, CampaignForbidden) as exc:
                context["error"], status = str(exc), errors.status_of(exc)
    return render(request, "annotation/build_items.html", context, status=status)


# --- annotating ------------------------------------------------------------


def shown_responses(texts):
    """Responses as the rank widget lists them: screen slot, letter, text, and a first line for its chips' names."""
    shown = []
    for i, text in enumerate(texts):
        first_line = next((line.strip() for line in text.splitlines() if line.strip()), "(empty)")
        shown.append(
            {
                "slot": i,
                "letter": chr(65 + i),
                "text": text,
                "first_line": first_line if len(first_line) <= 60 else first_line[:59] + "…",
            }
        )
    return shown


def _item_context(campaign, assignment, user, restore=None):
    spec = parse_spec(campaign.rubric.spec)
    comparison = assignment.item.comparison
    slots = {s.position: s.response for s in comparison.slots.select_related("response")}
    shown = shown_responses([slots[position].text for position in assignment.display_order])
    for entry, position in zip(shown, assignment.display_order):
        entry["media"] = media.tile(slots[position], f"Response {entry['letter']}")
        if entry["media"]:
            entry["first_line"] = f"{entry['media']['kind']} {entry['letter']}"
    aspects = []
    for aspect in spec["aspects"]:
        entry = dict(aspect)
        if aspect["kind"] == "rating":
            entry["points"] = scale_points(aspect)
        aspects.append(entry)
    kind = "repeat" if assignment.is_repeat else ""
    return {
        "submit_url": reverse(f"annotation:{kind}submit", args=[campaign.slug, assignment.pk]),
        "skip_url": reverse(f"annotation:{kind}skip", args=[campaign.slug, assignment.pk]),
        "campaign": campaign,
        "assignment": assignment,
        "spec": spec,
        "shown": shown,
        "aspects": aspects,
        "prompt": comparison.prompt,
        "progress": queues.progress(campaign, user),
        "standing": quality.standing_of(campaign, user),
        "k": campaign.k,
        "restore": restore,
    }


def form_values(answer, display_order, edited_answer=""):
    """The inverse of payload_from_form: a stored answer (comparison positions) as the item form's field
    values (screen slots), so an undone or revised item opens with the answers that were given."""
    slot_of = {position: slot for slot, position in enumerate(display_order)}

    def tiers(ranking):
        return json.dumps([sorted(slot_of[p] for p in group) for group in ranking], separators=(",", ":"))

    values = {"ranking": tiers(answer["ranking"])}
    for name in ("strength", "confidence", "rationale"):
        if answer.get(name) not in (None, ""):
            values[name] = str(answer[name])
    if answer.get("reason_tags"):
        values["reason_tags"] = list(answer["reason_tags"])
    if answer.get("none_acceptable"):
        values["none_acceptable"] = "on"
    if edited_answer:
        values["edited_answer"] = edited_answer
    for key, given in (answer.get("aspects") or {}).items():
        if given.get("kind") == "ranking":
            values[f"aspect-{key}"] = tiers(given["ranking"])
        else:
            for slot, position in enumerate(display_order):
                values[f"rating-{key}-{slot}"] = str(given["ratings"][position])
        for name in ("strength", "confidence", "rationale"):
            if given.get(name) not in (None, ""):
                values[f"aspect-{key}-{name}"] = str(given[name])
        if given.get("reason_tags"):
            values[f"aspect-{key}-reason_tags"] = list(given["reason_tags"])
    return values


def _render_next(request, campaign, undone=None):
    try:
        assignment = undone or queues.next_assignment(campaign, request.user)
    except queues.QueueEmpty as exc:
        return render(
            request,
            "annotation/_done.html",
            {"campaign": campaign, "message": str(exc), "progress": queues.progress(campaign, request.user)},
        )
    except queues.QueueBusy as exc:  # 200, so htmx swaps it in; the fragment asks again by itself
        return render(
            request,
            "annotation/_busy.html",
            {"campaign": campaign, "message": str(exc), "retry_after": exc.retry_after},
        )
    except (CampaignForbidden, queues.CampaignNotOpen) as exc:
        return refused(request, exc, target="#work")
    restore = None
    if undone is not None and getattr(undone, "undone", None) and undone.undone["answer"]:
        restore = form_values(undone.undone["answer"], undone.display_order, undone.undone["edited_answer"])
    return render(
        request, "annotation/_item.html", _item_context(campaign, assignment, request.user, restore)
    )


@login_required
@require_GET
@campaign_view()
def annotate(request, campaign):
    if not campaign_services.can_annotate(request.user, campaign):
        return problem(request, "You are not one of this campaign's annotators.", 403)
    return render(request, "annotation/annotate.html", {"campaign": campaign})


@login_required
@require_GET
@campaign_view()
def next_item(request, campaign):
    return _render_next(request, campaign)


@login_required
@require_POST
@campaign_view()
def submit(request, campaign, assignment_id, repeat=False):
    try:
        payload = payload_from_form(request.POST, parse_spec(campaign.rubric.spec), campaign.k)
        (queues.submit_repeat if repeat else queues.submit)(campaign, request.user, assignment_id, payload)
    except (ValueError, CampaignForbidden, LookupError) as exc:
        return refused(request, exc)
    response = _render_next(request, campaign)
    response["HX-Trigger"] = json.dumps(
        {"campaign-done": {"action": "submitted", "undo_seconds": campaign.undo_seconds}}
    )
    return response


@login_required
@require_POST
@campaign_view()
def skip(request, campaign, assignment_id, repeat=False):
    try:
        (queues.skip_repeat if repeat else queues.skip)(
            campaign, request.user, assignment_id, request.POST.get("skip_reason", "")
        )
    except (ValueError, CampaignForbidden, LookupError) as exc:
        return refused(request, exc, target="#skip-error")
    response = _render_next(request, campaign)
    response["HX-Trigger"] = json.dumps(
        {"campaign-done": {"action": "skipped", "undo_seconds": campaign.undo_seconds}}
    )
    return response


@login_required
@require_POST
@campaign_view()
def undo(request, campaign):
    try:
        assignment = queues.undo_last(campaign, request.user)
    except (ValueError, CampaignForbidden) as exc:
        return refused(request, exc, target="#toast")
    response = _render_next(request, campaign, undone=assignment)
    response["HX-Trigger"] = json.dumps({"campaign-undone": {"action": assignment.undone["action"]}})
    return response


def _order_as_seen(ranking, display_order):
    """A ranking (comparison positions) as the letters the annotator saw, best first: ["B", "A = C"]."""
    slot_of = {position: slot for slot, position in enumerate(display_order)}
    return [" = ".join(chr(65 + slot_of[p]) for p in sorted(group, key=slot_of.get)) for group in ranking]


@login_required
@require_GET
@campaign_view()
def my_judgments(request, campaign):
    """The annotator's past judgments in this campaign, each with a link to revise it while allowed."""
    rows = []
    for assignment in queues.my_judgments(campaign, request.user):
        rows.append(
            {
                "assignment": assignment,
                "order": _order_as_seen(assignment.judgment.ranking, assignment.display_order),
                "versions": assignment.judgment.revisions.all(),
            }
        )
    return render(
        request,
        "annotation/my_judgments.html",
        {
            "campaign": campaign,
            "rows": rows,
            "can_revise": campaign.allow_revisions and campaign.status == Campaign.Status.OPEN,
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
@campaign_view()
def revise(request, campaign, assignment_id):
    """Show one of the annotator's judgments with its answers filled in; a POST replaces it (the earlier
    version is kept as a JudgmentRevision)."""
    assignment = get_object_or_404(
        Assignment.objects.select_related("judgment", "item__comparison__prompt"),
        pk=assignment_id,
        annotator=request.user,
        item__campaign=campaign,
        status=Assignment.Status.SUBMITTED,
    )
    if request.method == "POST":
        try:
            payload = payload_from_form(request.POST, parse_spec(campaign.rubric.spec), campaign.k)
            queues.revise(campaign, request.user, assignment_id, payload)
        except (ValueError, CampaignForbidden, LookupError) as exc:
            return refused(request, exc)
        if request.htmx:
            response = HttpResponse("")
            response["HX-Redirect"] = (
                reverse("annotation:mine", args=[campaign.slug]) + f"?revised={assignment_id}"
            )
            return response
        return redirect(reverse("annotation:mine", args=[campaign.slug]) + f"?revised={assignment_id}")
    context = _item_context(
        campaign,
        assignment,
        request.user,
        form_values(
            queues.answer_of(assignment.judgment), assignment.display_order, assignment.edited_answer
        ),
    )
    context.update(
        revising=True,
        submit_url=reverse("annotation:revise", args=[campaign.slug, assignment_id]),
        versions=[
            {
                "version": r.version,
                "made_at": r.made_at,
                "order": _order_as_seen(r.ranking, assignment.display_order),
                "rationale": r.answer.get("rationale", ""),
            }
            for r in assignment.judgment.revisions.order_by("version")
        ],
    )
    return render(request, "annotation/revise.html", context)


# --- researchers -----------------------------------------------------------


@login_required
@require_GET
@campaign_view(manage=True)
def dashboard(request, campaign):
    return render(
        request,
        "annotation/dashboard.html",
        {
            "campaign": campaign,
            "build_form": BuildItemsForm(),
            **reports.dashboard(campaign),
            "status_choices": [("open", "Open"), ("paused", "Pause"), ("closed", "Close")],
        },
    )


@login_required
@require_GET
@campaign_view(manage=True, plain_not_found=True)
def chart(request, campaign, kind):
    return HttpResponse(reports.chart_png(campaign, kind), content_type="image/png")


@login_required
@require_POST
@campaign_view(manage=True)
def set_status(request, campaign):
    try:
        campaign_services.set_status(campaign, request.POST.get("status", ""), user=request.user)
    except (ValueError, CampaignForbidden) as exc:
        return refused(request, exc, target="#dashboard-error")
    return redirect("annotation:dashboard", slug=campaign.slug)


@login_required
@require_POST
@campaign_view(manage=True)
def reopen_annotator(request, campaign, user_id):
    annotator = get_object_or_404(get_user_model(), pk=user_id)
    quality.reopen_annotator(campaign, annotator, request.user)
    return redirect("annotation:dashboard", slug=campaign.slug)


@login_required
@require_GET
@campaign_view(manage=True)
def disagreements(request, campaign):
    rows = reports.disagreements(campaign)
    for (
        row
    ) in rows:  # texts in comparison order, and each verdict as letters (A = the comparison's first response)
        comparison = row["item"].comparison
        row["shown"] = shown_responses(
            [slot.response.text for slot in comparison.slots.select_related("response")]
        )
        row["verdicts"] = [
            {"assignment": a, "tiers": ranking_letters(a.judgment.ranking)} for a in row["assignments"]
        ]
        if row["adjudication"]:
            row["adjudication"].tiers = ranking_letters(row["adjudication"].ranking)
    return render(
        request,
        "annotation/disagreements.html",
        {
            "campaign": campaign,
            "rows": rows,
            "spec": parse_spec(campaign.rubric.spec),
            "k": campaign.k,
        },
    )


def ranking_letters(ranking):
    """[[0], [2, 1]] → [["A"], ["B", "C"]]: tie groups of comparison positions as letters, best first."""
    return [[chr(65 + position) for position in sorted(group)] for group in ranking]


@login_required
@require_POST
@campaign_view(manage=True)
def adjudicate(request, campaign, item_id):
    item = get_object_or_404(CampaignItem, pk=item_id, campaign=campaign)
    try:
        ranking = json.loads(request.POST.get("ranking", ""))
        adjudication = quality.adjudicate(item, request.user, ranking, request.POST.get("note", ""))
    except json.JSONDecodeError:
        return problem(
            request,
            "Rank every response first: click them best first, drag them, or press their letters.",
            400,
            target=f"#adj-error-{item.pk}",
        )
    except (ValueError, CampaignForbidden) as exc:
        return refused(request, exc, target=f"#adj-error-{item.pk}")
    adjudication.tiers = ranking_letters(adjudication.ranking)
    return render(request, "annotation/_adjudication.html", {"item": item, "adjudication": adjudication})


@login_required
@require_http_methods(["GET", "POST"])
def profile(request):
    current = AnnotatorProfile.objects.filter(user=request.user).first()
    asked = sorted(
        {
            f
            for fields in Campaign.objects.filter(items__assignments__annotator=request.user).values_list(
                "profile_fields", flat=True
            )
            for f in fields or []
        }
    )
    initial = (
        {"opted_in": current.opted_in, "expertise": current.expertise, "languages": current.languages}
        if current
        else {}
    )
    form = ProfileForm(request.POST or None, initial=initial)
    saved = False
    if request.method == "POST" and form.is_valid():
        demographics = {f: request.POST.get(f"field-{f}", "").strip()[:200] for f in asked}
        demographics = {k: v for k, v in demographics.items() if v}
        current = quality.save_profile(request.user, demographics=demographics, **form.cleaned_data)
        saved = True
    values = current.demographics if current else {}
    return render(
        request,
        "annotation/profile.html",
        {
            "form": form,
            "saved": saved,
            "fields": [(f, values.get(f, "")) for f in asked],
        },
        status=400 if request.method == "POST" and not form.is_valid() else 200,
    )
