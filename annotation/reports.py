"""Reads for the researcher dashboard and the reviewer: progress, annotators, conflicts, distributions,
disagreements, and charts as PNG images."""

import io
import statistics
from collections import Counter, defaultdict

from django.db.models import Count, Q

from .agreement import _top, campaign_agreement
from .models import AnnotatorProfile, AnnotatorStanding, Assignment, CampaignItem, RepeatCheck
from .quality import annotator_reliability, self_consistency


def campaign_progress(campaign):
    items = campaign.items.filter(kind=CampaignItem.Kind.REGULAR)
    counts = items.annotate(
        done=Count("assignments", filter=Q(assignments__status=Assignment.Status.SUBMITTED))
    )
    total = counts.count()
    complete = sum(1 for c in counts.values_list("done", flat=True) if c >= campaign.overlap)
    judged = Assignment.objects.filter(item__in=items, status=Assignment.Status.SUBMITTED).count()
    return {
        "items": total,
        "complete_items": complete,
        "judged": judged,
        "wanted": total * campaign.overlap,
        "checks": campaign.items.exclude(kind=CampaignItem.Kind.REGULAR).count(),
        "skipped": Assignment.objects.filter(
            item__campaign=campaign, status=Assignment.Status.SKIPPED
        ).count(),
        "repeats": RepeatCheck.objects.filter(
            item__campaign=campaign, status=RepeatCheck.Status.SUBMITTED
        ).count(),
    }


def annotator_table(campaign):
    rows = defaultdict(lambda: {"submitted": 0, "skipped": 0, "times": [], "checks": 0, "passed": 0})
    for a in Assignment.objects.filter(item__campaign=campaign).select_related("annotator", "judgment"):
        row = rows[a.annotator]
        if a.status == Assignment.Status.SUBMITTED:
            row["submitted"] += 1
            if a.judgment.time_spent_ms is not None:
                row["times"].append(a.judgment.time_spent_ms)
            if a.check_passed is not None:
                row["checks"] += 1
                row["passed"] += int(a.check_passed)
        elif a.status == Assignment.Status.SKIPPED:
            row["skipped"] += 1
    standings = {s.annotator_id: s.state for s in AnnotatorStanding.objects.filter(campaign=campaign)}
    table = []
    for user, row in sorted(rows.items(), key=lambda kv: kv[0].username):
        table.append(
            {
                "user": user,
                "submitted": row["submitted"],
                "skipped": row["skipped"],
                "median_seconds": round(statistics.median(row["times"]) / 1000, 1) if row["times"] else None,
                "gold_accuracy": row["passed"] / row["checks"] if row["checks"] else None,
                "checks": row["checks"],
                "reliability": annotator_reliability(user, campaign),
                "state": standings.get(user.pk, AnnotatorStanding.State.OK),
                "consistency": self_consistency(user, campaign),
            }
        )
    return table


def rating_ranking_conflicts(campaign):
    """Judgments that rate a response higher on some aspect while ranking it lower overall."""
    out = []
    rating_aspects = [a for a in campaign.rubric.spec.get("aspects", []) if a["kind"] == "rating"]
    if not rating_aspects:
        return out
    rows = Assignment.objects.filter(
        item__campaign=campaign, status=Assignment.Status.SUBMITTED
    ).select_related("judgment", "annotator")
    for a in rows:
        rank = {p: r for r, group in enumerate(a.judgment.ranking) for p in group}
        for aspect in rating_aspects:
            ratings = (a.judgment.aspects or {}).get(aspect["key"], {}).get("ratings")
            if not ratings:
                continue
            for i in range(len(ratings)):
                for j in range(len(ratings)):
                    if rank[i] < rank[j] and ratings[i] < ratings[j]:
                        out.append(
                            {
                                "assignment": a,
                                "aspect": aspect["label"],
                                "ranked_higher": chr(65 + i),
                                "rated_higher": chr(65 + j),
                            }
                        )
    return out


def distributions(campaign):
    judgments = [
        a.judgment
        for a in Assignment.objects.filter(
            item__campaign=campaign, status=Assignment.Status.SUBMITTED
        ).select_related("judgment")
    ]
    ties = sum(1 for j in judgments if any(len(g) > 1 for g in j.ranking))
    strength = Counter(j.strength for j in judgments if j.strength is not None)
    labels = (campaign.rubric.spec.get("strength") or {}).get("labels", [])
    return {
        "judgments": len(judgments),
        "with_ties": ties,
        "none_acceptable": sum(j.none_acceptable for j in judgments),
        "strength": [
            (labels[v - 1] if 0 < v <= len(labels) else str(v), strength[v]) for v in sorted(strength)
        ],
    }


def disagreements(campaign):
    """Regular items with ≥ 2 judgments whose top choices differ, with their judgments and any adjudication."""
    by_item = defaultdict(list)
    rows = Assignment.objects.filter(
        item__campaign=campaign, item__kind=CampaignItem.Kind.REGULAR, status=Assignment.Status.SUBMITTED
    ).select_related("judgment", "annotator", "item__comparison__prompt")
    for a in rows:
        by_item[a.item].append(a)
    out = []
    for item, assignments in sorted(by_item.items(), key=lambda kv: kv[0].pk):
        if len(assignments) >= 2 and len({_top(a.judgment.ranking) for a in assignments}) > 1:
            out.append(
                {
                    "item": item,
                    "assignments": assignments,
                    "adjudication": getattr(item, "adjudication", None),
                }
            )
    return out


def visible_profiles(campaign):
    """Opt-in profiles of this campaign's annotators, only the fields the campaign asks for."""
    users = Assignment.objects.filter(item__campaign=campaign).values("annotator")
    out = []
    for profile in AnnotatorProfile.objects.filter(user__in=users, opted_in=True).select_related("user"):
        fields = {f: profile.demographics.get(f, "") for f in campaign.profile_fields}
        out.append(
            {
                "user": profile.user,
                "expertise": profile.expertise,
                "languages": profile.languages,
                "fields": fields,
            }
        )
    return out


def dashboard(campaign):
    return {
        "progress": campaign_progress(campaign),
        "agreement": campaign_agreement(campaign),
        "annotators": annotator_table(campaign),
        "conflicts": rating_ranking_conflicts(campaign),
        "distributions": distributions(campaign),
        "profiles": visible_profiles(campaign),
    }


def chart_png(campaign, kind):
    """'progress' (judgments per item histogram) or 'strength' (tie / strength distribution)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5, 2.6), dpi=100)
    ax = fig.add_subplot()
    if kind == "progress":
        counts = (
            campaign.items.filter(kind=CampaignItem.Kind.REGULAR)
            .annotate(done=Count("assignments", filter=Q(assignments__status=Assignment.Status.SUBMITTED)))
            .values_list("done", flat=True)
        )
        hist = Counter(counts)
        xs = list(range(0, max([campaign.overlap, *hist]) + 1))
        ax.bar([str(x) for x in xs], [hist[x] for x in xs], color="#3b6ea5")
        ax.set_xlabel("judgments per item")
        ax.set_ylabel("items")
        ax.set_title(f"Progress (overlap {campaign.overlap})")
    else:
        d = distributions(campaign)
        labels = ["tie"] + [label for label, _ in d["strength"]]
        values = [d["with_ties"]] + [n for _, n in d["strength"]]
        ax.bar(labels or ["none"], values or [0], color="#a5673b")
        ax.set_ylabel("judgments")
        ax.set_title("Ties and strength")
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()
