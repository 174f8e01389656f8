from __future__ import annotations

from .models import RatingSnapshot


def latest_snapshot(
    method: str = "bt", style_control: bool = False, category: str = ""
) -> RatingSnapshot | None:
    return RatingSnapshot.objects.filter(
        method=method, style_control=style_control, category=category
    ).first()


def rated_categories() -> list[str]:
    """Prompt categories that have a leaderboard of their own."""
    return sorted(set(RatingSnapshot.objects.exclude(category="").values_list("category", flat=True)))


def matchmaking_stats() -> dict[str, dict[str, float]]:
    """What adaptive matchmaking knows of each model: score, interval half-width, votes (Bayesian view)."""
    snapshot = latest_snapshot("bayes") or latest_snapshot("bt")
    if snapshot is None:
        return {}
    return {
        row["model"]: {"score": row["rating"], "sigma": (row["ci_high"] - row["ci_low"]) / 2, "n": row["n"]}
        for row in snapshot.rows
    }
