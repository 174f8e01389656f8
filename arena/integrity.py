"""The vote-integrity report: suspicious voting, each signal with the sentence that explains it.

Signals read the arena's human votes (battles only) and say who and why; nothing is excluded
automatically. An admin decides, with arena.board.exclude_voter (votes kept, exclusion recorded)."""

import math
from collections import defaultdict
from datetime import timedelta

from django.db.models import Max

from annotation.models import ComparisonSlot, Judgment
from ranking.judgments import POINTS_PER_LOGIT
from ranking.selectors import latest_snapshot

from .models import GuestVoter, VoterExclusion

RECENT_VOTES = 50_000  # the report reads at most this many of the latest battle votes
LOYAL_MIN_BATTLES, LOYAL_SHARE = 8, 0.9
BURST_VOTES, BURST_WINDOW = 20, timedelta(minutes=10)
DISAGREE_MIN_PAIRS, DISAGREE_Z = 10, 3.0
FAST_MIN_CHARS, FAST_CHARS_PER_S, FAST_MIN_VOTES = 600, 60.0, 3

EXPLAIN = {
    "loyal": f"Put the same model first in at least {LOYAL_SHARE:.0%} of the (at least {LOYAL_MIN_BATTLES}) battles "
    "it was in, far above the crowd's rate for that model: a fan or a campaign, most telling in votes "
    "where an answer gave its name away.",
    "burst": f"{BURST_VOTES} or more votes within {int(BURST_WINDOW.total_seconds() // 60)} minutes from one voter "
    "session or one guest address: faster than people read answers.",
    "disagree": f"Disagreed with the crowd's order far more than chance (z ≥ {DISAGREE_Z:g} over at least "
    f"{DISAGREE_MIN_PAIRS} pairs, against the disagreement the board itself predicts): random or "
    "inverted voting.",
    "fast": f"At least {FAST_MIN_VOTES} votes on answers of {FAST_MIN_CHARS}+ characters cast faster than "
    f"{FAST_CHARS_PER_S:g} characters a second after the last answer finished: not read.",
}


def _votes():
    """The latest battle votes: (judgment, models by position, answer characters, answers finished at)."""
    judgments = list(
        Judgment.objects.filter(source=Judgment.Source.HUMAN, comparison__battle__isnull=False)
        .order_by("-id")
        .values(
            "id",
            "annotator_id",
            "annotator__username",
            "ranking",
            "created_at",
            "comparison_id",
            "identities_hidden",
        )[:RECENT_VOTES]
    )
    ids = [j["comparison_id"] for j in judgments]
    shown = defaultdict(dict)
    chars = defaultdict(int)
    for cid, position, name, text in ComparisonSlot.objects.filter(comparison_id__in=ids).values_list(
        "comparison_id", "position", "response__endpoint__name", "response__text"
    ):
        shown[cid][position] = name
        chars[cid] += len(text or "")
    finished = dict(
        ComparisonSlot.objects.filter(comparison_id__in=ids)
        .values("comparison_id")
        .annotate(done=Max("response__finished_at"))
        .values_list("comparison_id", "done")
    )
    return [
        (j, shown[j["comparison_id"]], chars[j["comparison_id"]], finished.get(j["comparison_id"]))
        for j in judgments
    ]


def _first(ranking, shown):
    return shown.get(ranking[0][0]) if ranking and len(ranking[0]) == 1 else None


def report():
    votes = _votes()
    by_voter = defaultdict(list)
    names = {}
    for vote in votes:
        by_voter[vote[0]["annotator_id"]].append(vote)
        names[vote[0]["annotator_id"]] = vote[0]["annotator__username"]
    flags = defaultdict(list)  # voter id -> [(signal, detail)]
    _loyal(votes, by_voter, flags)
    for voter, mine in by_voter.items():
        if (start := _burst([j["created_at"] for j, *_ in mine])) is not None:
            flags[voter].append(("burst", f"{BURST_VOTES} votes from {start:%Y-%m-%d %H:%M} UTC"))
    ips = dict(GuestVoter.objects.filter(user_id__in=list(by_voter)).values_list("user_id", "ip"))
    ip_bursts = _ip_bursts(by_voter, ips)
    _disagreeing(by_voter, flags)
    _fast(by_voter, flags)

    excluded = {e.voter_id: e for e in VoterExclusion.objects.filter(lifted_at__isnull=True)}
    voters = [
        {
            "id": voter,
            "name": names[voter],
            "votes": len(by_voter[voter]),
            "guest": voter in ips,
            "signals": [{"signal": s, "detail": d, "why": EXPLAIN[s]} for s, d in found],
            "excluded": excluded.get(voter),
        }
        for voter, found in flags.items()
    ]
    return {
        "voters": sorted(voters, key=lambda v: (-len(v["signals"]), v["name"])),
        "ip_bursts": ip_bursts,
        "explain": EXPLAIN,
        "votes_read": len(votes),
        "exclusions": list(VoterExclusion.objects.select_related("voter", "excluded_by")[:200]),
    }


def _loyal(votes, by_voter, flags):
    """First place for one model, against the crowd's first-place rate for it."""
    appeared, firsts = defaultdict(int), defaultdict(int)
    for j, shown, _, _ in votes:
        for name in shown.values():
            appeared[name] += 1
        if (first := _first(j["ranking"], shown)) is not None:
            firsts[first] += 1
    for voter, mine in by_voter.items():
        seen, top = defaultdict(int), defaultdict(int)
        for j, shown, _, _ in mine:
            for name in shown.values():
                seen[name] += 1
            if (first := _first(j["ranking"], shown)) is not None:
                top[first] += 1
        for name, n in seen.items():
            crowd = firsts[name] / appeared[name]
            if n >= LOYAL_MIN_BATTLES and top[name] / n >= LOYAL_SHARE and top[name] / n > crowd + 0.3:
                flags[voter].append(
                    ("loyal", f"{name} first in {top[name]} of {n} battles (crowd: {crowd:.0%})")
                )


def _burst(times):
    """The start of the first window of BURST_VOTES votes within BURST_WINDOW, or None."""
    times = sorted(times)
    for i in range(len(times) - BURST_VOTES + 1):
        if times[i + BURST_VOTES - 1] - times[i] <= BURST_WINDOW:
            return times[i]
    return None


def _ip_bursts(by_voter, ips):
    """Bursts per guest address (several guest sessions from one address)."""
    by_ip = defaultdict(list)
    for voter, mine in by_voter.items():
        if ips.get(voter):
            by_ip[ips[voter]].extend(j["created_at"] for j, *_ in mine)
    return [{"ip": ip, "start": start} for ip, times in by_ip.items() if (start := _burst(times)) is not None]


def _ordered_pairs(ranking, shown):
    """(preferred, other) model names for every pair the ranking orders."""
    for hi, group in enumerate(ranking):
        for lower in ranking[hi + 1 :]:
            for winner in group:
                for loser in lower:
                    yield shown.get(winner), shown.get(loser)


def _disagreeing(by_voter, flags):
    """Disagreement with the crowd's order, against what the board predicts."""
    snapshot = latest_snapshot("bt")
    rating = {row["model"]: row["rating"] for row in (snapshot.rows if snapshot else [])}
    for voter, mine in by_voter.items():
        disagreed = expected = variance = pairs = 0.0
        for j, shown, _, _ in mine:
            for a, b in _ordered_pairs(j["ranking"], shown):
                if a not in rating or b not in rating or rating[a] == rating[b]:
                    continue
                q = 1.0 / (1.0 + math.exp(abs(rating[a] - rating[b]) / POINTS_PER_LOGIT))  # P(upset)
                disagreed += rating[a] < rating[b]
                expected += q
                variance += q * (1 - q)
                pairs += 1
        if pairs >= DISAGREE_MIN_PAIRS and variance > 0:
            z = (disagreed - expected) / math.sqrt(variance)
            if z >= DISAGREE_Z:
                detail = f"{int(disagreed)} of {int(pairs)} pairs against the board (expected {expected:.1f}; z = {z:.1f})"
                flags[voter].append(("disagree", detail))


def _fast(by_voter, flags):
    """Fast votes on long answers."""
    for voter, mine in by_voter.items():
        fast = [
            (chars, (j["created_at"] - done).total_seconds())
            for j, _, chars, done in mine
            if done
            and chars >= FAST_MIN_CHARS
            and (j["created_at"] - done).total_seconds() < chars / FAST_CHARS_PER_S
        ]
        if len(fast) >= FAST_MIN_VOTES:
            chars, seconds = max(fast, key=lambda f: f[0] / max(f[1], 0.1))
            flags[voter].append(
                ("fast", f"{len(fast)} votes; e.g. {chars} characters judged in {max(seconds, 0):.1f} s")
            )
