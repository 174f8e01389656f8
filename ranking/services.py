"""Glue: rebuild rating snapshots from the judgments."""

from django.conf import settings

from annotation.selectors import judged_rankings

from .elo import online_elo
from .models import RatingSnapshot

# Snapshots are derived; keep a short history for "how did it move" views.
KEEP_SNAPSHOTS = 200


def rebuild_elo_snapshot():
    """Replay every blind human judgment through online Elo and store the result.

    Replaying from scratch (cheap at this scale) makes the task idempotent and
    immune to votes arriving out of order; the full engine comes with the rating issue."""
    k = float(getattr(settings, "ELO_K_FACTOR", 32.0))
    ids, rankings = [], []
    for judgment_id, ranking, _none_acceptable in judged_rankings():
        ids.append(judgment_id)
        rankings.append(ranking)
    latest = RatingSnapshot.objects.filter(method=RatingSnapshot.Method.ELO).first()
    last_id = max(ids) if ids else None
    if latest and latest.judgment_count == len(ids) and latest.last_judgment_id == last_id:
        return latest  # nothing new: a repeated task changes nothing
    rows = [
        {
            "model": r.model,
            "rating": round(r.rating, 1),
            "battles": r.battles,
            "wins": r.wins,
            "ties": r.ties,
            "losses": r.losses,
            "win_rate": round(r.win_rate, 4) if r.win_rate is not None else None,
        }
        for r in online_elo(rankings, k=k)
    ]
    snapshot = RatingSnapshot.objects.create(
        method=RatingSnapshot.Method.ELO,
        judgment_count=len(ids),
        last_judgment_id=last_id,
        rows=rows,
        params={"k": k, "initial": 1000.0},
    )
    stale = RatingSnapshot.objects.filter(method=RatingSnapshot.Method.ELO).values_list("pk", flat=True)[KEEP_SNAPSHOTS:]
    RatingSnapshot.objects.filter(pk__in=list(stale)).delete()
    return snapshot
