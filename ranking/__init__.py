"""Rating math as a pure library (no Django in the core modules), plus thin Django glue.

Core: ``from ranking import OnlineRanker``; ``ranking.leaderboard.fit_leaderboard``;
``ranking.diagnostics.diagnostics``; ``ranking.style.markdown_features``;
``ranking.matchmaking.choose_matchup``.
"""

from .online import OnlineRanker

__all__ = ["OnlineRanker"]
