"""What a voter may see of a battle. The one place that decides anonymity:
the HTML pages and the API both render this payload, so a name cannot leak
through one and not the other."""

from urllib.parse import urlencode

from annotation.models import Judgment
from inference.models import Response
from inference.categories import CATEGORIES
from ranking.selectors import latest_snapshot, rated_categories

from .services import vote_choice

FAILED_MESSAGE = "This model failed to answer. This battle cannot be voted on; start a new battle."


def battle_payload(battle, user):
    slots = battle.comparison.slots.select_related("response__endpoint").order_by("position")
    judgment = Judgment.objects.filter(comparison=battle.comparison, annotator=user).first()
    sides = []
    for slot in slots:
        response = slot.response
        failed = response.status == Response.Status.FAILED
        sides.append(
            {
                "position": slot.position_label,
                "status": response.status,
                "text": "" if failed else response.text,
                "message": FAILED_MESSAGE if failed else "",
                # Revealed only once this voter has voted.
                "model": str(response.endpoint) if judgment else None,
            }
        )
    statuses = {side["status"] for side in sides}
    return {
        "id": str(battle.public_id),
        "arena": battle.arena.slug,
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


INTERVALS = {
    "bootstrap": "{n} bootstrap resamples",
    "laplace": "Laplace (analytic) intervals of a live refit; bootstrap intervals at the next full refit",
    "sandwich": "sandwich (robust analytic) intervals, the large-sample limit of the bootstrap",
    "posterior": "the Bayesian posterior",
    "none": "no intervals",
}


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
        "interval_label": INTERVALS[_interval(snapshot)].format(n=snapshot.bootstrap if snapshot else 0),
        "rows": snapshot.rows if snapshot else [],
        "style_coefficients": snapshot.style_coefficients if snapshot else None,
        "diagnostics": snapshot.diagnostics if snapshot else None,
    }


def sample_answers(arena):
    """The arena's sample prompts for "Random prompt": those whose answers are ready first.

    {"prompts": texts to draw from (the ready ones, or all while none is), "ready", "total",
    "filling": whether a pool is still answering them on the worker}."""
    from inference.models import ResponsePool
    from inference.selectors import pool_answers

    from .demo import sample_pool_name

    texts = list(arena.sample_prompts or [])
    pool = ResponsePool.objects.filter(name=sample_pool_name(arena)).first()
    if pool is None or not texts:
        return {"prompts": texts, "ready": 0, "total": len(texts), "filling": False}
    wanted = set(pool.endpoints.values_list("pk", flat=True))
    answered = {}
    for conversation, endpoint_id in pool_answers(pool).values_list("prompt__conversation", "endpoint_id"):
        answered.setdefault(conversation[-1]["content"], set()).add(endpoint_id)
    ready = [text for text in texts if answered.get(text, set()) >= wanted]
    unsettled = pool_answers(pool, status=None).filter(status__in=["pending", "running"]).exists()
    return {"prompts": ready or texts, "ready": len(ready), "total": len(texts), "filling": unsettled}
