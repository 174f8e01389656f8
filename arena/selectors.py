"""What a voter may see of a battle. The one place that decides anonymity:
the HTML pages and the API both render this payload, so a name cannot leak
through one and not the other."""

from datetime import timedelta
from urllib.parse import urlencode

from django.conf import settings
from django.utils import timezone

from annotation.models import Judgment
from inference.models import Response
from inference.selectors import retrying
from inference.categories import CATEGORIES
from ranking.models import RatingSnapshot
from ranking.selectors import latest_snapshot, rated_categories

from .services import shown_slots, vote_choice

FAILED_MESSAGE = "This model failed to answer. This battle cannot be voted on; start a new battle."
RETRY_MESSAGE = "The worker writing this answer stopped; the answer is being written again."


_UNKNOWN = object()


def battle_payload(battle, user, judgment=_UNKNOWN):
    """``judgment``: this user's judgment when the caller has it (the vote just stored), else read."""
    slots = shown_slots(battle)
    if judgment is _UNKNOWN:
        judgment = Judgment.objects.filter(comparison=battle.comparison, annotator=user).first()
    sides = []
    for slot in slots:
        response = slot.response
        failed = response.status == Response.Status.FAILED
        retried = retrying(response)
        sides.append(
            {
                "position": slot.position_label,
                "status": response.status,
                "text": "" if failed else response.text,
                "message": FAILED_MESSAGE if failed else RETRY_MESSAGE if retried else "",
                "retrying": retried,
                # Revealed only once this voter has voted.
                "model": str(response.endpoint) if judgment else None,
            }
        )
    statuses = {side["status"] for side in sides}
    return {
        "id": str(battle.public_id),
        "arena": battle.arena.slug,
        "display_mode": battle.arena.display_mode,
        "prompt": battle.comparison.prompt.last_user_text,
        "sides": sides,
        "finished": statuses <= {Response.Status.DONE, Response.Status.FAILED},
        "failed": Response.Status.FAILED in statuses,
        "votable": statuses == {Response.Status.DONE} and judgment is None,
        "vote": vote_choice(judgment) if judgment else None,
        "rationale": judgment.rationale if judgment else "",
        "created_at": battle.created_at,
    }


METHODS = {"bt": "Bradley–Terry", "pl": "Plackett–Luce", "bayes": "Bayesian (Weng–Lin)", "elo": "Online Elo"}


def parse_view(method, style_control, category=""):
    """The leaderboard view asked for, as (method, style control, category); ValueError with a sentence for a bad one."""
    method = method or "bt"
    if method not in METHODS:
        raise ValueError(f"Unknown method {method!r}; choose one of: {', '.join(METHODS)}.")
    style = str(style_control).lower() in ("1", "true", "yes", "on")
    if style and method != "bt":
        raise ValueError("Style control is available with the Bradley–Terry method (method=bt) only.")
    category = (category or "").strip()
    if category and category not in CATEGORIES:
        raise ValueError(f"Unknown category {category!r}; choose one of: {', '.join(CATEGORIES)} (or none for all).")
    return method, style, category


INTERVALS = {  # bootstrap and laplace: see _interval_label
    "sandwich": "sandwich (robust analytic) intervals, the large-sample limit of the bootstrap",
    "posterior": "the Bayesian posterior (credible intervals under a N(0, 1)-logit prior)",
    "none": "no intervals",
}


def _full_refit_resamples(method):
    """The resamples a periodic full refit of this method takes (Elo takes fewer; see ranking.services)."""
    full = settings.RANKING_FULL_BOOTSTRAP
    return min(full, settings.RANKING_ELO_BOOTSTRAP) if method == "elo" else full


def _interval_label(snapshot, method, style_control, category):
    """What the intervals are, and, before a full refit's intervals, when that refit will run."""
    kind = _interval(snapshot)
    if kind not in ("bootstrap", "laplace"):
        return INTERVALS[kind]
    full = _full_refit_resamples(method)
    if kind == "bootstrap" and snapshot.bootstrap >= full:
        return f"{snapshot.bootstrap:,} bootstrap resamples (full refit), never narrower than the Laplace interval"
    period = settings.CELERY_BEAT_SCHEDULE["ranking-full-refit"]["schedule"]
    last_full = RatingSnapshot.objects.filter(
        method=method, style_control=style_control, category=category, bootstrap__gte=full,
    ).values_list("computed_at", flat=True).first()
    when = f"every {period / 60:g} minutes"
    if last_full is not None:
        when += f", next around {timezone.localtime(last_full + timedelta(seconds=period)):%H:%M}"
    now = (f"{snapshot.bootstrap} bootstrap resamples of a live refit" if kind == "bootstrap"
           else "Laplace (analytic) intervals of a live refit")
    return f"{now}; the full refit with {full:,} resamples runs {when}"


def _interval(snapshot):
    """Which intervals the snapshot holds: bootstrap, laplace, sandwich, posterior or none."""
    if snapshot is None:
        return "none"
    return snapshot.params.get("interval") or ("bootstrap" if snapshot.bootstrap else "none")


def leaderboard(method="bt", style_control=False, category=""):
    """The latest leaderboard of one view: rows best first (empty before any vote)."""
    snapshot = latest_snapshot(method, style_control, category)
    return {
        "method": method,
        "method_name": METHODS[method],
        "style_control": style_control,
        "category": category,
        "categories": {key: CATEGORIES[key] for key in rated_categories()},
        # The view as a query string, for polling and image URLs.
        "query": urlencode({"method": method, "style_control": int(style_control), "category": category}),
        "snapshot_id": snapshot.pk if snapshot else None,
        "computed_at": snapshot.computed_at if snapshot else None,
        "judgment_count": snapshot.judgment_count if snapshot else 0,
        "bootstrap": snapshot.bootstrap if snapshot else 0,
        "interval": _interval(snapshot),
        "interval_label": _interval_label(snapshot, method, style_control, category),
        "rows": snapshot.rows if snapshot else [],
        "style_coefficients": snapshot.style_coefficients if snapshot else None,
        "diagnostics": snapshot.diagnostics if snapshot else None,
    }
