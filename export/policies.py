"""The export policies as pure functions: rank-breaking, pair outcomes,
aggregation across annotators, length balancing and the prompt-grouped split.
No Django import; every function is deterministic."""

import hashlib
import json
from dataclasses import dataclass

WIN, LOSS, TIE = 1, -1, 0


def break_ranking(ranking, method):
    """Pairs from a ranking of tie groups (best first).

    Returns (strict, tied): strict is a list of (winner, loser, gap) where gap is
    how many tie groups apart they stand; tied is a list of (a, b) with a < b,
    two positions in one tie group.

    - all-pairs: every member of a group beats every member of every later group;
      tied pairs within every group. K(K-1)/2 pairs in all.
    - best-vs-rest: the members of the first group beat every other response;
      tied pairs within the first group only.
    - adjacent: every member of a group beats every member of the next group;
      tied pairs within every group."""
    strict, tied = [], []
    groups = [sorted(group) for group in ranking]
    for g, group in enumerate(groups):
        if method == "all-pairs":
            later = range(g + 1, len(groups))
        elif method == "adjacent":
            later = range(g + 1, min(g + 2, len(groups)))
        elif method == "best-vs-rest":
            later = range(g + 1, len(groups)) if g == 0 else ()
        else:
            raise ValueError(f"Unknown rank-breaking method {method!r}.")
        for h in later:
            strict.extend((w, loser, h - g) for w in group for loser in groups[h])
        if method != "best-vs-rest" or g == 0:
            tied.extend((a, b) for i, a in enumerate(group) for b in group[i + 1 :])
    return strict, tied


def group_index(ranking):
    """position -> index of its tie group (0 = best)."""
    return {position: g for g, group in enumerate(ranking) for position in group}


def pair_outcome(ranking_index, a, b):
    """WIN if a ranks above b, LOSS if below, TIE if they share a group."""
    ga, gb = ranking_index[a], ranking_index[b]
    return WIN if ga < gb else LOSS if ga > gb else TIE


UNKNOWN_RELIABILITY = 0.5
"""The weight of a judgment whose author has no reliability (no gold checks and no shared items
yet, and every AI judge): the value annotation.quality.annotator_reliability's own prior gives
with no evidence, so an unknown author counts as a coin-flip rater, not as a perfect one."""


def judgment_weight(judgment):
    """How much one judgment counts in reliability-weighted aggregation: its author's
    reliability in [0, 1] (``judgment.reliability``, filled by the export service from
    annotation.quality), or UNKNOWN_RELIABILITY when there is none."""
    reliability = getattr(judgment, "reliability", None)
    return UNKNOWN_RELIABILITY if reliability is None else float(reliability)


def unit_weight(judgment):
    """Every judgment counts once (majority, and the agreement of unaggregated rows)."""
    return 1.0


@dataclass
class PairVerdict:
    """The outcome for one unordered pair (a < b) of one comparison."""

    a: int
    b: int
    outcome: int  # WIN: a over b, LOSS: b over a, TIE
    agreement: float  # weight share of the comparison's judgments with this outcome
    judgments: list  # the judgments that said this outcome
    gap: int = 1

    @property
    def winner_loser(self):
        return (self.a, self.b) if self.outcome == WIN else (self.b, self.a)


def pair_agreement(judgments, indexes, a, b, outcome, weight=unit_weight):
    """Weight share of judgments whose ranking gives this outcome for (a, b)."""
    total = agree = 0.0
    for judgment, index in zip(judgments, indexes):
        weight_ = weight(judgment)
        total += weight_
        if pair_outcome(index, a, b) == outcome:
            agree += weight_
    return agree / total if total else 0.0


def aggregate_pairs(judgments, rankings, method, weight=unit_weight):
    """Majority (or, with weight=judgment_weight, reliability-weighted majority) outcome per
    pair of one comparison.

    Candidate pairs are those the rank-breaking method takes from any judgment;
    every judgment of the comparison then votes on each candidate with the
    outcome its full ranking implies (a over b, b over a, or tie). The outcome
    with the largest weight wins; when two outcomes share the largest weight
    there is no majority and the pair yields nothing. Returns (verdicts,
    pairs_without_majority)."""
    indexes = [group_index(r) for r in rankings]
    candidates = set()
    for ranking in rankings:
        strict, tied = break_ranking(ranking, method)
        candidates.update((min(w, loser), max(w, loser)) for w, loser, _ in strict)
        candidates.update(tied)
    verdicts, no_majority = [], 0
    for a, b in sorted(candidates):
        weights = {WIN: 0.0, LOSS: 0.0, TIE: 0.0}
        for judgment, index in zip(judgments, indexes):
            weights[pair_outcome(index, a, b)] += weight(judgment)
        total = sum(weights.values())
        best = max(weights.values())
        winners = [o for o, w in weights.items() if w == best]
        if len(winners) != 1 or total == 0:
            no_majority += 1
            continue
        outcome = winners[0]
        agreeing = [j for j, index in zip(judgments, indexes) if pair_outcome(index, a, b) == outcome]
        gaps = [
            abs(index[a] - index[b])
            for j, index in zip(judgments, indexes)
            if pair_outcome(index, a, b) == outcome
        ]
        verdicts.append(
            PairVerdict(a, b, outcome, best / total, agreeing, gap=max(1, round(sum(gaps) / len(gaps))))
        )
    return verdicts, no_majority


class LengthBalancer:
    """Caps how often chosen is the longer answer (a known reward-hacking shortcut).

    Streaming and deterministic: a pair whose chosen text is strictly longer is
    kept only if keeping it leaves the running chosen-longer rate at or below the
    cap; other pairs are always kept. Lengths are in characters."""

    def __init__(self, max_rate):
        self.max_rate = max_rate
        self.kept = 0
        self.chosen_longer = 0
        self.dropped = 0

    def admit(self, chosen_length, rejected_length):
        longer = chosen_length > rejected_length
        if (
            self.max_rate is not None
            and longer
            and (self.chosen_longer + 1) > self.max_rate * (self.kept + 1)
        ):
            self.dropped += 1
            return False
        self.kept += 1
        self.chosen_longer += longer
        return True


def prompt_key(conversation):
    """A stable key for the prompt's content, so equal prompts typed twice group together."""
    turns = [[str(t.get("role", "")), str(t.get("content", "")).strip()] for t in conversation or []]
    return hashlib.sha256(json.dumps(turns, ensure_ascii=False).encode()).hexdigest()


def split_for(key, seed, test_fraction):
    """'train' or 'test' for a prompt key: a seeded hash, so the same prompt always
    lands in the same split and no prompt leaks across."""
    if test_fraction <= 0:
        return "train"
    digest = hashlib.sha256(f"{seed}:{key}".encode()).digest()
    return "test" if int.from_bytes(digest[:8], "big") / 2**64 < test_fraction else "train"


# ---------------------------------------------------------------- units: what one judgment or comparison yields

# Outcome codes of a unit's agreement specs, beside WIN (1) and TIE (0): non-negative, so they
# pack into one integer key. LOSS_: b over a. NONE_SHARE: the "none acceptable" share.
LOSS_, NONE_SHARE = 2, 3


@dataclass(frozen=True)
class Unit:
    """One row unit of one judgment: a pair (a chosen over b rejected, or a tie kept with margin
    zero) or, under kto-negative, an unpaired negative (a == b). ``specs`` say how its agreement
    is counted: each is (code, x, y) and the unit's agreement is the smallest of their shares
    among the comparison's judgments (WIN: x over y, TIE: x tied with y, NONE_SHARE: "none
    acceptable")."""

    negative: bool
    a: int
    b: int
    gap: int
    tie: bool
    specs: tuple


class Units(list):
    """judgment_units' answer: the units in row order, and ``dropped`` ({reason: count}) for the card."""

    def __init__(self, units=(), dropped=None):
        super().__init__(units)
        self.dropped = dropped or {}


def judgment_units(options, ranking, none_acceptable):
    """The row units one valid judgment with this ranking yields under the tie and rank-breaking
    policies (every judgment its own rows, --aggregate none), and what the policies drop.
    Depends only on the options and the ranking, so an export computes it once per distinct
    (ranking, none acceptable)."""
    if none_acceptable and options.ties == "drop":
        return Units(dropped={"none acceptable (judgments)": 1})
    if none_acceptable and options.ties == "kto-negative":
        return Units(Unit(True, p, p, 0, True, ((NONE_SHARE, 0, 0),)) for p in sorted(group_index(ranking)))
    strict, tied = break_ranking(ranking, options.rank_breaking)
    units = Units(Unit(False, w, loser, gap, False, ((WIN, w, loser),)) for w, loser, gap in strict)
    if tied:
        if options.ties == "drop":
            units.dropped["tied pairs"] = len(tied)
        elif options.ties == "margin-zero":
            units += [Unit(False, a, b, 0, True, ((TIE, a, b),)) for a, b in tied]
        else:  # kto-negative: each tied response once, with its least-agreed tied pair's agreement
            specs = {}
            for a, b in tied:
                for position in (a, b):
                    specs.setdefault(position, []).append((TIE, a, b))
            units += [Unit(True, p, p, 0, True, tuple(specs[p])) for p in sorted(specs)]
    return units


def share(judgments, predicate, weight=unit_weight):
    """Weight share of the judgments for which predicate holds."""
    total = sum(weight(j) for j in judgments)
    return sum(weight(j) for j in judgments if predicate(j)) / total if total else 0.0


@dataclass(frozen=True)
class AggregateUnit:
    """One row unit of a comparison under --aggregate majority or weighted: a pair, or under
    kto-negative an unpaired negative (a == b), with the judgments it stands for."""

    negative: bool
    a: int
    b: int
    gap: int
    tie: bool
    judgments: list
    agreement: float
    none_acceptable: bool


def aggregate_units(options, judgments, positions):
    """The row units of one comparison's valid judgments under aggregation (majority, or
    reliability-weighted), with the same tie policies as judgment_units, and what is dropped."""
    weight = judgment_weight if options.aggregate == "weighted" else unit_weight
    bad_share = share(judgments, lambda j: j.none_acceptable, weight)
    none_acceptable = bad_share > 0.5
    if none_acceptable and options.ties == "drop":
        return [], {"none acceptable (comparisons, by majority)": 1}
    if none_acceptable and options.ties == "kto-negative":
        bad = [j for j in judgments if j.none_acceptable]
        return [AggregateUnit(True, p, p, 0, True, bad, bad_share, True) for p in sorted(positions)], {}
    verdicts, no_majority = aggregate_pairs(
        judgments, [j.ranking for j in judgments], options.rank_breaking, weight
    )
    dropped = {"no majority (pairs)": no_majority} if no_majority else {}
    units, tied = [], []
    for verdict in verdicts:
        if verdict.outcome == TIE:
            tied.append(verdict)
            continue
        winner, loser = verdict.winner_loser
        units.append(
            AggregateUnit(
                False,
                winner,
                loser,
                verdict.gap,
                False,
                verdict.judgments,
                verdict.agreement,
                none_acceptable,
            )
        )
    if tied and options.ties == "drop":
        dropped["tied pairs"] = len(tied)
    elif options.ties == "margin-zero":
        units += [
            AggregateUnit(False, v.a, v.b, 0, True, v.judgments, v.agreement, none_acceptable) for v in tied
        ]
    else:  # kto-negative: each tied pair's responses, each with its pair's agreement
        for v in tied:
            units += [
                AggregateUnit(True, p, p, 0, True, v.judgments, v.agreement, none_acceptable)
                for p in (v.a, v.b)
            ]
    return units, dropped
