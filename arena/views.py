"""Server-rendered arena pages (htmx). Views parse input, call one service, render."""

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import reswap, retarget

from annotation.services import JudgmentConflict

from . import plots, selectors, services
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


@login_required
@require_GET
def home(request, slug=None):
    arena = _arena(slug)
    return render(request, "arena/home.html", {"arena": arena, "samples": _samples(arena)})


def _samples(arena):
    return selectors.sample_answers(arena) if arena and arena.sample_prompts else None


@login_required
@require_GET
def sample_answers(request, slug):
    """The sample prompts' readiness, polled by the arena page while the worker answers them."""
    arena = _arena(slug)
    return render(request, "arena/_sample_answers.html", {"arena": arena, "samples": _samples(arena)})


@login_required
@require_POST
def start_battle(request, slug=None):
    arena = _arena(slug)
    if arena is None:
        return _problem(request, "No arena is open yet; an admin must create one.", 404)
    try:
        battle = services.start_battle(arena, request.user, request.POST.get("prompt", ""))
    except ValueError as exc:
        status = 429 if isinstance(exc, services.TooManyOpenBattles) else 400
        context = {"arena": arena, "error": str(exc), "prompt": request.POST.get("prompt", ""), "samples": _samples(arena)}
        return render(request, "arena/home.html", context, status=status)
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
    try:
        battle = services.get_battle(public_id, request.user)
        services.cast_vote(battle, request.user, request.POST.get("choice", ""), request.POST.get("rationale", ""))
    except services.BattleNotFound as exc:
        return _problem(request, str(exc), 404)
    except (JudgmentConflict, services.BattleNotReady) as exc:
        return _problem(request, str(exc), 409)
    except ValueError as exc:
        return _problem(request, str(exc), 400)
    if not request.htmx:
        return redirect("arena:battle", public_id=battle.public_id)
    return render(request, "arena/_battle.html", {"battle": selectors.battle_payload(battle, request.user)})


def _board(request):
    return selectors.leaderboard(
        *selectors.parse_view(request.GET.get("method"), request.GET.get("style_control", ""), request.GET.get("category"))
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
