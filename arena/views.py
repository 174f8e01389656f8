"""Server-rendered arena pages (htmx). Views parse input, call one service, render."""

import json

from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.http import HttpResponse, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import reswap, retarget

from annotation import roles
from annotation.roles import has_role
from annotation.services import JudgmentConflict

from . import board, guests, plots, selectors, services, transparency
from . import integrity as integrity_report
from .models import Arena


def _arena(slug=None):
    arenas = Arena.objects.filter(is_open=True)
    if slug:
        return get_object_or_404(arenas, slug=slug)
    return arenas.first()


def _problem(request, message, status, target="#vote-error"):
    """A 4xx with a sentence: into the page's message slot for htmx, as a page otherwise."""
    if request.htmx:
        response = render(request, "arena/_message.html", {"message": message}, status=status)
        return reswap(retarget(response, target), "innerHTML")
    return render(request, "arena/problem.html", {"message": message}, status=status)


@require_GET
def home(request, slug=None):
    arena = _arena(slug)
    if not request.user.is_authenticated and not (arena and arena.allow_guests):
        return redirect_to_login(request.get_full_path())
    return render(request, "arena/home.html", _home_context(request, arena))


def _home_context(request, arena, **extra):
    pow_ = None if request.user.is_authenticated else guests.pow_challenge(request)
    return {"arena": arena, "samples": _samples(arena), "pow": pow_, **extra}


def _samples(arena):
    return selectors.sample_answers(arena) if arena and arena.sample_prompts else None


@login_required
@require_GET
def sample_answers(request, slug):
    """The sample prompts' readiness, polled by the arena page while the worker answers them."""
    arena = _arena(slug)
    return render(request, "arena/_sample_answers.html", {"arena": arena, "samples": _samples(arena)})


@require_POST
def start_battle(request, slug=None):
    arena = _arena(slug)
    if arena is None:
        return _problem(request, "No arena is open yet; an admin must create one.", 404)
    try:
        voter = guests.voter_for(request, arena)
        if voter is None:
            return redirect_to_login(reverse("arena:arena", args=[arena.slug]))
        battle = services.start_battle(arena, voter, request.POST.get("prompt", ""))
    except ValueError as exc:
        context = _home_context(request, arena, error=str(exc), prompt=request.POST.get("prompt", ""))
        if not isinstance(exc, (services.TooManyOpenBattles, guests.GuestLimit)):
            return render(request, "arena/home.html", context, status=400)
        response = render(request, "arena/home.html", context, status=429)
        response["Retry-After"] = "10"  # battles free up as their answers finish
        return response
    return redirect("arena:battle", public_id=battle.public_id)


@login_required
@require_GET
def battle(request, public_id):
    try:
        battle = services.get_battle(public_id, request.user)
    except services.BattleNotFound as exc:
        return _problem(request, str(exc), 404)
    template = "arena/_sides.html" if request.htmx else "arena/battle.html"
    return render(request, template, {"battle": selectors.battle_payload(battle, request.user)})


@login_required
@require_POST
def vote(request, public_id):
    return _on_battle(
        request,
        public_id,
        "#vote-error",
        lambda battle: services.cast_vote(
            battle,
            request.user,
            request.POST.get("choice", ""),
            request.POST.get("rationale", ""),
            ranking=_posted_ranking(request.POST.get("ranking", "")),
            none_acceptable=request.POST.get("none_acceptable") in ("on", "1", "true"),
        ),
    )


@login_required
@require_POST
def follow_up(request, public_id):
    return _on_battle(
        request,
        public_id,
        "#follow-up-error",
        lambda battle: services.send_follow_up(
            battle,
            request.user,
            request.POST.get("message", ""),
            _posted_ranking(request.POST.get("turn_ranking", "")),
        ),
    )


# What each refusal of a battle action answers: not yours 404, not now 409, too often 429, else 400.
REFUSALS = [
    (services.BattleNotFound, 404),
    ((JudgmentConflict, services.BattleNotReady, services.BattleClosed), 409),
    (guests.GuestLimit, 429),
    (ValueError, 400),
]


def _on_battle(request, public_id, error_target, action):
    """Run one battle action (vote, follow-up) and show the battle again, or the sentence that refused it."""
    try:
        battle = services.get_battle(public_id, request.user)
        action(battle)
    except (LookupError, ValueError) as exc:
        status = next(code for kind, code in REFUSALS if isinstance(exc, kind))
        return _problem(request, str(exc), status, target=error_target)
    if not request.htmx:
        return redirect("arena:battle", public_id=battle.public_id)
    return render(request, "arena/_battle.html", {"battle": selectors.battle_payload(battle, request.user)})


def _posted_ranking(text):
    """The rank widget's JSON (tie groups), None when it sent nothing; ValueError for garbage."""
    if not text.strip():
        return None
    try:
        return json.loads(text)
    except ValueError:
        raise ValueError("The ranking could not be read; rank the answers again.") from None


@require_GET
def top_flip(request):
    return render(request, "arena/_top_flip.html", {"flip": transparency.top_spot_flip()})


@require_GET
def sampling(request):
    return render(request, "arena/sampling.html", {"data": transparency.sampling()})


@require_GET
def sampling_image(request, group):
    response = HttpResponse(plots.shares_png(transparency.sampling(), group), content_type="image/png")
    response["Cache-Control"] = "max-age=60"  # the shares themselves are cached for a minute
    return response


def _admin_only(request):
    """A 403 with a sentence unless the user is an admin (login_required has let only members in)."""
    if request.user.is_staff or has_role(request.user, roles.ADMIN):
        return None
    return _problem(request, "Only admins read the vote-integrity report and exclude voters.", 403)


@login_required
@require_GET
def integrity(request):
    if refused := _admin_only(request):
        return refused
    return render(request, "arena/integrity.html", {"report": integrity_report.report()})


@login_required
@require_POST
def integrity_action(request, action):
    if refused := _admin_only(request):
        return refused
    voter = get_object_or_404(get_user_model(), pk=request.POST.get("voter") or 0)
    try:
        if action == "exclude":
            board.exclude_voter(voter, request.POST.get("reason", ""), by=request.user)
        else:
            board.lift_exclusion(voter)
    except ValueError as exc:
        return _problem(request, str(exc), 400)
    return redirect("arena:integrity")


@login_required
@require_GET
def my_board(request):
    return render(request, "arena/my_board.html", {"board": selectors.personal_board(request.user)})


def _board(request):
    return selectors.leaderboard(
        *selectors.parse_view(
            request.GET.get("method"), request.GET.get("style_control", ""), request.GET.get("category")
        )
    )


@require_GET
def leaderboard(request):
    try:
        board = _board(request)
    except ValueError as exc:
        return _problem(request, str(exc), 400, target="#leaderboard")
    template = "arena/_leaderboard_table.html" if request.htmx else "arena/leaderboard.html"
    return render(request, template, {"board": board, "methods": selectors.METHODS})


@require_GET
def leaderboard_image(request, kind):
    try:
        board = _board(request)
    except ValueError as exc:
        return HttpResponseBadRequest(str(exc), content_type="text/plain")
    png = plots.intervals_png(board) if kind == "intervals" else plots.heatmap_png(board)
    response = HttpResponse(png, content_type="image/png")
    response["Cache-Control"] = "max-age=60"  # the URL carries the snapshot id, so a new board is a new URL
    return response
