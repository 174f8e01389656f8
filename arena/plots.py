"""Leaderboard pictures: rating intervals and the win-rate heatmap, as PNG bytes."""

import io

import matplotlib

matplotlib.use("Agg")  # no display on servers
import matplotlib.pyplot as plt
import numpy as np


def _png(fig):
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return buffer.getvalue()


def _empty(message):
    fig, ax = plt.subplots(figsize=(6, 1.2))
    ax.axis("off")
    ax.text(0.5, 0.5, message, ha="center", va="center", color="#6b7280")
    return _png(fig)


def intervals_png(board):
    """Each model's rating with its 95% interval (of the kind the board holds), best at the top."""
    rows = board["rows"]
    if not rows:
        return _empty("No votes yet")
    rows = rows[::-1]
    y = np.arange(len(rows))
    rating = np.array([r["rating"] for r in rows])
    # Clipped: a percentile interval may sit a hair off the point estimate (one-vote boards).
    low = np.clip(rating - np.array([r["ci_low"] for r in rows]), 0, None)
    high = np.clip(np.array([r["ci_high"] for r in rows]) - rating, 0, None)
    fig, ax = plt.subplots(figsize=(7, 0.45 * len(rows) + 1.2))
    colors = ["#9ca3af" if r.get("preliminary") else "#3355ff" for r in rows]
    for i, color in enumerate(colors):  # grey marks a preliminary model
        ax.errorbar(
            rating[i], y[i], xerr=[[low[i]], [high[i]]], fmt="o", color=color, elinewidth=2, capsize=4
        )
    ax.set_yticks(y, [r["model"] for r in rows])
    ax.set_xlabel(f"{board['method_name']} rating (95% interval: {board['interval_label']})", wrap=True)
    ax.grid(axis="x", alpha=0.3)
    return _png(fig)


def heatmap_png(board):
    """Row model's win rate against column model (ties count half), in leaderboard order."""
    diag = board.get("diagnostics")
    if not diag or not diag.get("models"):
        return _empty("No votes yet")
    models = diag["models"]
    rates = np.array([[np.nan if v is None else v for v in row] for row in diag["win_rate"]], dtype=float)
    size = 0.6 * len(models) + 2
    fig, ax = plt.subplots(figsize=(size + 1, size))
    image = ax.imshow(rates, cmap="RdBu", vmin=0, vmax=1)
    ax.set_xticks(range(len(models)), models, rotation=45, ha="right")
    ax.set_yticks(range(len(models)), models)
    for i in range(len(models)):
        for j in range(len(models)):
            if not np.isnan(rates[i, j]):
                color = "white" if abs(rates[i, j] - 0.5) > 0.3 else "black"
                ax.text(j, i, f"{rates[i, j]:.2f}", ha="center", va="center", fontsize=8, color=color)
    ax.set_xlabel("opponent")
    ax.set_title("Win rate of row model against column model")
    fig.colorbar(image, ax=ax, fraction=0.046)
    return _png(fig)


def shares_png(data, group, top=8):
    """Each model's (or provider's) share of battles week by week, oldest week first: the sampling page's
    picture of who was drawn how often. The `top` most-drawn are named; the rest are summed as "others"."""
    weeks = data["weeks"][::-1]
    rows = data[group]
    if not weeks or not rows:
        return _empty("No battles yet")
    named, rest = rows[:top], rows[top:]
    fig, ax = plt.subplots(figsize=(7.5, 3.4))
    x = np.arange(len(weeks))
    for row in named:
        ax.plot(x, [100 * w["share"] for w in row["weeks"][::-1]], marker="o", label=row["name"])
    if rest:
        others = np.sum([[w["share"] for w in row["weeks"][::-1]] for row in rest], axis=0)
        ax.plot(x, 100 * others, marker="o", linestyle="--", color="#9ca3af", label=f"{len(rest)} others")
    ax.set_xticks(x, weeks, rotation=30, ha="right")
    ax.set_ylabel("share of the week's battles (%)")
    ax.set_xlabel("week of")
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False)
    return _png(fig)
