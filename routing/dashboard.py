"""What the campaign dashboard shows of routing: budget used and left, what went where and why,
AI–human agreement per slice from the audit share, and predicted against realised gain."""

import io
from collections import Counter

from annotation import routing_records
from annotation.models import CampaignItem, RoutingDecision

DECISIONS_SHOWN = 200


def routing_report(campaign):
    routing = routing_records.routing_of(campaign)
    if routing is None:
        return {"routing": None}
    items = CampaignItem.objects.filter(campaign=campaign, kind=CampaignItem.Kind.REGULAR).count()
    decisions = list(routing_records.decisions_of(campaign).order_by("-predicted_gain", "item_id"))
    where = Counter(d.destination for d in decisions)
    by_slice = {}
    for d in decisions:
        row = by_slice.setdefault(d.slice or "(none)", {"human": 0, "ai": 0, "audit": 0})
        row[d.destination] += 1
        row["audit"] += d.audit
    budget = routing_records.human_budget(routing, items)
    estimates = routing.estimates or {}
    return {
        "routing": routing,
        "items": items,
        "budget": budget,
        "budget_used": where[RoutingDecision.Destination.HUMAN],
        "budget_left": max(0, budget - where[RoutingDecision.Destination.HUMAN]),
        "to_people": where[RoutingDecision.Destination.HUMAN],
        "to_ai": where[RoutingDecision.Destination.AI],
        "undecided": items - len(decisions),
        "audit": sum(d.audit for d in decisions),
        "by_slice": dict(sorted(by_slice.items())),
        "agreement": estimates.get("agreement_by_slice", {}),
        "predicted_gain": estimates.get("predicted_gain_mean"),
        "realised_gain": estimates.get("realised_gain_mean"),
        "decisions": decisions[:DECISIONS_SHOWN],
        "decisions_total": len(decisions),
    }


def chart_png(campaign):
    """Left: AI–human agreement per slice with its 95% interval (audit share). Right: predicted gain
    against the share of items where people disagreed with the AI, in bins of predicted gain."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    routing = routing_records.routing_of(campaign)
    estimates = (routing.estimates if routing else None) or {}
    agreement = estimates.get("agreement_by_slice", {})
    pairs = estimates.get("gain_pairs", [])
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.4))
    if agreement:
        names = list(agreement)
        rates = [agreement[n]["rate"] for n in names]
        low = [max(0.0, r - agreement[n]["low"]) for n, r in zip(names, rates)]
        high = [max(0.0, agreement[n]["high"] - r) for n, r in zip(names, rates)]
        left.errorbar(rates, range(len(names)), xerr=[low, high], fmt="o", color="#3355ff", capsize=4)
        left.set_yticks(range(len(names)), [f"{n} (n={agreement[n]['n']})" for n in names])
        left.set_xlim(0, 1)
    else:
        left.text(0.5, 0.5, "No audited items labelled yet", ha="center", va="center", color="#6b7280")
        left.set_yticks([])
    left.set_xlabel("AI–human agreement (audit share, 95% interval)")
    if pairs:
        bins = [0.0, 0.2, 0.4, 0.6, 0.8, 1.01]
        xs, ys, ns = [], [], []
        for lo, hi in zip(bins, bins[1:]):
            inside = [r for p, r in pairs if lo <= p < hi]
            if inside:
                xs.append((lo + min(hi, 1.0)) / 2)
                ys.append(sum(inside) / len(inside))
                ns.append(len(inside))
        right.plot([0, 1], [0, 1], color="#9ca3af", linestyle="--", label="perfectly calibrated")
        right.scatter(xs, ys, s=[20 + 4 * n for n in ns], color="#e4572e", label="people disagreed with AI")
        right.legend(loc="upper left", fontsize=8)
        right.set_xlim(-0.02, 1.02)
        right.set_ylim(-0.05, 1.05)
    else:
        right.text(
            0.5, 0.5, "No routed items labelled by people yet", ha="center", va="center", color="#6b7280"
        )
    right.set_xlabel("predicted gain of a human label")
    right.set_ylabel("realised (share disagreeing)")
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    plt.close(fig)
    return buffer.getvalue()
