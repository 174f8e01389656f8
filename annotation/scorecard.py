"""How far each AI judge can be trusted, measured on comparisons people also judged.

For every (judge, judge prompt version): agreement with the human majority (accuracy and
Cohen's kappa over the labels "position i wins" / "tie"), the position-flip rate (share of
its verdicts that changed when the answers were shown in another order), and length bias
(how often it picks the longer answer, against how often people do, on the same
comparisons). Per category when prompts carry one. Derived, never stored: rebuild any time."""

from collections import Counter, defaultdict

from .agreement import cohen_kappa
from .models import Judgment

TIE = "tie"


def verdict_label(ranking):
    """The winner's position as a label, or "tie" when the top group holds more than one."""
    top = ranking[0]
    return str(top[0]) if len(top) == 1 else TIE


def comparison_category(comparison):
    """A prompt's category where the data model has one; "" otherwise."""
    return getattr(comparison.prompt, "category", "") or ""


def _longer_position(comparison):
    """For K = 2: the position of the longer answer, or None when equally long."""
    slots = list(comparison.slots.all())
    if len(slots) != 2:
        return None
    lengths = {s.position: len(s.response.text) for s in slots}
    if lengths[0] == lengths[1]:
        return None
    return str(max(lengths, key=lengths.get))


def _rate(hits, total):
    return round(hits / total, 4) if total else None


def human_majorities():
    """comparison id -> (majority label, number of human votes); comparisons with no single majority are left out."""
    votes = defaultdict(Counter)
    for comparison_id, ranking in Judgment.objects.filter(source=Judgment.Source.HUMAN).values_list(
        "comparison_id", "ranking"
    ):
        votes[comparison_id][verdict_label(ranking)] += 1
    majorities = {}
    for comparison_id, counter in votes.items():
        (label, count), *rest = counter.most_common()
        if not rest or rest[0][1] < count:
            majorities[comparison_id] = (label, sum(counter.values()))
    return majorities


def _metrics(rows, flips, judged):
    pairs = [(r["judge"], r["human"]) for r in rows]
    strict = [r for r in rows if r["longer"] is not None and r["judge"] != TIE and r["human"] != TIE]
    kappa = cohen_kappa([a for a, _ in pairs], [b for _, b in pairs]) if pairs else None
    return {
        "compared": len(rows),
        "accuracy": _rate(sum(a == b for a, b in pairs), len(pairs)),
        "cohen_kappa": round(kappa, 4) if kappa is not None else None,
        "judged": judged,
        "position_flip_rate": _rate(flips, judged),
        "length_pairs": len(strict),
        "judge_picks_longer": _rate(sum(r["judge"] == r["longer"] for r in strict), len(strict)),
        "people_pick_longer": _rate(sum(r["human"] == r["longer"] for r in strict), len(strict)),
    }


def judge_scorecard(judge_ids=None):
    """One row per (judge, prompt version), with per-category rows when categories exist."""
    from .judges import FLIP_TAG

    majorities = human_majorities()
    judgments = Judgment.objects.filter(source=Judgment.Source.AI).select_related(
        "judge", "comparison__prompt"
    )
    if judge_ids:
        judgments = judgments.filter(judge_id__in=judge_ids)
    judgments = judgments.prefetch_related("comparison__slots__response").order_by(
        "judge__name", "judge_prompt_version", "pk"
    )
    groups = defaultdict(list)
    for judgment in judgments:
        groups[(judgment.judge, judgment.judge_prompt_version)].append(judgment)
    card = []
    for (judge, version), items in groups.items():
        by_category = defaultdict(lambda: {"rows": [], "flips": 0, "judged": 0})
        for judgment in items:
            category = comparison_category(judgment.comparison)
            for key in {"", category}:
                bucket = by_category[key]
                bucket["judged"] += 1
                bucket["flips"] += FLIP_TAG in (judgment.reason_tags or [])
                if judgment.comparison_id in majorities:
                    bucket["rows"].append(
                        {
                            "judge": verdict_label(judgment.ranking),
                            "human": majorities[judgment.comparison_id][0],
                            "longer": _longer_position(judgment.comparison),
                        }
                    )
        per_category = {
            name: _metrics(b["rows"], b["flips"], b["judged"])
            for name, b in sorted(by_category.items())
            if name
        }
        overall = by_category[""]
        card.append(
            {
                "judge": judge.name,
                "judge_id": judge.pk,
                "method": judge.judge_method,
                "judge_prompt_version": version,
                **_metrics(overall["rows"], overall["flips"], overall["judged"]),
                "per_category": per_category,
            }
        )
    return card
