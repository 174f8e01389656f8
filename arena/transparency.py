"""Reads for a board that answers "The Leaderboard Illusion": who was sampled how often, under
which policy and weights, which rows are provisional, which models retired, and how many votes
it would take to change the top spot."""

from collections import defaultdict

from django.conf import settings
from django.core.cache import cache
from django.db.models import Count, F
from django.db.models.functions import Coalesce, TruncWeek

from annotation.models import ComparisonSlot
from annotation.selectors import judged_rankings, rated_judgments
from inference.models import ModelEndpoint
from ranking.leaderboard import fit_leaderboard
from ranking.selectors import latest_snapshot

from .models import Arena, ArenaChange, Battle, Retirement

SAMPLING_POLICY = (
    "Every model variant that ever received a vote stays listed. A retired model leaves the live board "
    "for the Retired tab with its last rows frozen, the date and the reason; its votes are kept and never "
    "deleted. Each arena's matchmaking policy and weights are shown below with every change to them, and "
    "each model's and provider's share of battles week by week, so unequal sampling is visible."
)


def sampling(weeks=12):
    """Battles per week (newest first), and each model's and provider's share of them; policies in force; changes.
    The shares are cached for a minute (a public page over every battle)."""
    # A new battle is a new cache entry (its time too: a database emptied and refilled reuses ids).
    newest = Battle.objects.order_by("-id").values_list("id", "created_at").first()
    stamp = f"{newest[0]}@{newest[1].timestamp()}" if newest else "none"
    shares = cache.get_or_set(f"arena:sampling-shares:{stamp}:{weeks}", lambda: _shares(weeks), 60)
    arenas = []
    for arena in Arena.objects.prefetch_related("entries__endpoint"):
        entries = sorted(arena.entries.all(), key=lambda e: e.endpoint.name)
        total_weight = sum(e.weight for e in entries if e.endpoint.enabled) or 1.0
        arenas.append(
            {
                "name": arena.name,
                "slug": arena.slug,
                "policy": arena.get_matchmaking_display(),
                "k": arena.k,
                "open": arena.is_open,
                "entries": [
                    {
                        "model": e.endpoint.name,
                        "provider": e.endpoint.provider,
                        "weight": e.weight,
                        "enabled": e.endpoint.enabled,
                        "private": e.endpoint.private,
                        "weight_share": (e.weight / total_weight) if e.endpoint.enabled else 0.0,
                    }
                    for e in entries
                ],
            }
        )
    return {
        **shares,
        "policy_text": SAMPLING_POLICY,
        "total_battles": Battle.objects.count(),
        "arenas": arenas,
        "changes": list(ArenaChange.objects.select_related("arena")[:500]),
    }


def _shares(weeks):
    slots = (
        ComparisonSlot.objects.filter(comparison__battle__isnull=False)
        .annotate(week=TruncWeek("comparison__battle__created_at"))
        .values("week", "comparison_id", "response__endpoint__name", "response__endpoint__provider")
    )
    battles = defaultdict(set)
    by_model = defaultdict(lambda: defaultdict(set))
    by_provider = defaultdict(lambda: defaultdict(set))
    for row in slots.order_by("-week")[:200_000]:
        week = row["week"].date().isoformat()
        battles[week].add(row["comparison_id"])
        by_model[row["response__endpoint__name"]][week].add(row["comparison_id"])
        by_provider[row["response__endpoint__provider"] or "(no provider)"][week].add(row["comparison_id"])
    shown_weeks = sorted(battles, reverse=True)[:weeks]

    def table(groups):
        rows = []
        for name, per_week in sorted(groups.items()):
            total = sum(len(ids) for ids in per_week.values())
            rows.append(
                {
                    "name": name,
                    "battles": total,
                    "weeks": [
                        {
                            "battles": len(per_week.get(w, ())),
                            "share": len(per_week.get(w, ())) / len(battles[w]) if battles[w] else 0.0,
                        }
                        for w in shown_weeks
                    ],
                }
            )
        return sorted(rows, key=lambda r: (-r["battles"], r["name"]))

    return {
        "weeks": shown_weeks,
        "week_battles": [len(battles[w]) for w in shown_weeks],
        "models": table(by_model),
        "providers": table(by_provider),
    }


def votes_since_release():
    """{model name: counted votes made after the model's public release} (private variants: none yet)."""
    endpoint = "comparison__slots__response__endpoint__"
    counts = (
        rated_judgments()
        .filter(**{f"{endpoint}private": False})
        .annotate(release=Coalesce(F(f"{endpoint}released_at"), F(f"{endpoint}created_at")))
        .filter(created_at__gte=F("release"))
        .values(f"{endpoint}name")
        .annotate(n=Count("id", distinct=True))
    )
    return {row[f"{endpoint}name"]: row["n"] for row in counts}


def mark_rows(rows, snapshot=None):
    """The board's rows less retired models, each marked provisional (too few votes since its
    public release) and private (an unreleased variant); and the retired models' frozen rows.
    The vote counts are cached per snapshot: the open board polls every second."""
    retired = {r.endpoint.name: r for r in Retirement.objects.select_related("endpoint")}
    since = (
        cache.get_or_set(f"arena:since-release:{_stamp(snapshot)}", votes_since_release, 600) if rows else {}
    )
    private = set(ModelEndpoint.objects.filter(private=True).values_list("name", flat=True))
    need = settings.ARENA_PROVISIONAL_VOTES
    live = []
    for row in rows:
        if row["model"] in retired:
            continue
        n = since.get(row["model"], 0)
        live.append(
            {
                **row,
                "private": row["model"] in private,
                "votes_since_release": n,
                "provisional": row["model"] in private or n < need,
            }
        )
    return live, retired


def _stamp(snapshot):
    """A snapshot's cache name: its id and time (a database emptied and refilled reuses ids)."""
    return f"{snapshot.pk}@{snapshot.computed_at.timestamp()}" if snapshot else "none"


def retired_rows(method):
    return [
        {
            "model": r.endpoint.name,
            "provider": r.endpoint.provider,
            "retired_at": r.retired_at,
            "reason": r.reason,
            "row": r.frozen_rows.get(method),
        }
        for r in Retirement.objects.select_related("endpoint").order_by("-retired_at")
    ]


def top_spot_flip(snapshot=None, limit=50_000):
    """What it takes to change the #1 model (Huang et al., arXiv 2508.11847): the fewest counted votes
    to drop, taking first those that ranked #1 above #2, then those where #1 won outright, so that
    another model leads a Bradley–Terry refit. None before two rated models or above `limit` votes.
    The latest Bradley–Terry board unless given."""
    snapshot = snapshot or latest_snapshot("bt")
    if snapshot is None or len(snapshot.rows) < 2 or snapshot.judgment_count > limit:
        return None
    top, second = snapshot.rows[0]["model"], snapshot.rows[1]["model"]
    # Small boards: per snapshot. Large ones: while the top two stand, per 100 more votes (a busy board
    # writes a snapshot a second, and each answer reads every vote).
    scope = (
        _stamp(snapshot)
        if snapshot.judgment_count < 1000
        else f"{top}:{second}:{snapshot.judgment_count // 100}"
    )
    key = f"arena:top-flip:{scope}"
    cached = cache.get(key)
    if cached is not None:
        return cached
    rankings = [judged.ranking for judged in judged_rankings()]

    def place(ranking, model):
        return next((i for i, group in enumerate(ranking) if model in group), None)

    direct = [
        i
        for i, r in enumerate(rankings)
        if place(r, top) is not None and place(r, second) is not None and place(r, top) < place(r, second)
    ]
    outright = [
        i for i, r in enumerate(rankings) if i not in set(direct) and place(r, top) == 0 and len(r[0]) == 1
    ]
    candidates = direct + outright

    def leader(drop):
        dropped = set(candidates[:drop])
        kept = [r for i, r in enumerate(rankings) if i not in dropped]
        rows = fit_leaderboard(kept, method="bt", min_votes=1).rows if kept else []
        return rows[0]["model"] if rows else None

    result = {"top": top, "second": second, "total": len(rankings), "votes": None, "new_top": None}
    if candidates and leader(len(candidates)) != top:
        lo, hi = 1, len(candidates)  # the fewest dropped votes that change the leader
        while lo < hi:
            mid = (lo + hi) // 2
            if leader(mid) != top:
                hi = mid
            else:
                lo = mid + 1
        result.update(votes=lo, new_top=leader(lo), share=lo / len(rankings))
    cache.set(key, result, timeout=3600)
    return result
