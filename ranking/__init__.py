"""Rating math as a pure library (no Django in the core modules), plus thin Django glue.

Core: ``from ranking import OnlineRanker``; ``ranking.leaderboard.fit_leaderboard``;
``ranking.diagnostics.diagnostics``; ``ranking.style.markdown_features``;
``ranking.matchmaking.choose_matchup``.
"""

__all__ = ["OnlineRanker"]


def __getattr__(name: str) -> type:
    # Lazy: `python -m ranking fit` should not pay for the online ranker's imports (scipy.special).
    if name == "OnlineRanker":
        from .online import OnlineRanker

        return OnlineRanker
    raise AttributeError(f"module 'ranking' has no attribute {name!r}")
