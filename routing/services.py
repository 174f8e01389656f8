"""Routing in the platform (Django glue): AI judges label every item of a routed campaign first, the
router sends the items where a human label gains most to the human queue under the campaign's budget,
and it refits on a worker as human labels arrive.

One entry point does all of it, idempotently: ``route_campaign`` (run by routing.tasks). It is asked for
after items arrive, after each AI verdict on a routed item, and after every ``refit_every`` new human
labels; beat sweeps routed campaigns too, so a lost task only delays routing."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from celery import current_app
from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from annotation import routing_records
from annotation.judges import queue_judging
from annotation.models import Assignment, CampaignItem, CampaignRouting, Judgment, RoutingDecision

from . import Router, agreement_by_slice
from .features import judge_verdicts, label_of, majority_label, stored_features, verdict_features

if TYPE_CHECKING:
    from annotation.models import Campaign
    from inference.models import ModelEndpoint

log = logging.getLogger(__name__)
ROUTE_QUEUED_KEY = "routing:queued:{}"
ROUTE_RUNNING_KEY = "routing:running:{}"
JUDGING_QUEUED_KEY = "routing:judging:{}:{}"


def configure(campaign: Campaign, data: object) -> CampaignRouting:
    """Change a campaign's routing settings from a plain dict (API body, form); a turned-on routing is
    applied at once on a worker. RoutingInvalid names what to fix."""
    if not isinstance(data, dict):
        raise routing_records.RoutingInvalid(
            "Send the routing settings as an object, e.g. {\"enabled\": true, …}."
        )
    current = routing_records.routing_of(campaign)
    unknown = set(data) - {
        "enabled",
        "policy",
        "budget_share",
        "budget_count",
        "audit",
        "judges",
        "tagger",
        "refit_every",
        "seed",
    }
    if unknown:
        raise routing_records.RoutingInvalid(f"Unknown routing setting(s): {', '.join(sorted(unknown))}.")

    def value(key: str, default: Any) -> Any:
        if key in data:
            return data[key]
        return getattr(current, key) if current is not None else default

    share, count = data.get("budget_share"), data.get("budget_count")
    if "budget_share" not in data and "budget_count" not in data and current is not None:
        share, count = current.budget_share, current.budget_count
    elif share is None and count is None:
        share = 0.25
    judges = (
        data["judges"] if "judges" in data else ([j.name for j in current.judges.all()] if current else [])
    )
    tagger = (
        data["tagger"] if "tagger" in data else (current.tagger.name if current and current.tagger else None)
    )
    routing = routing_records.save_routing(
        campaign,
        enabled=value("enabled", False),
        policy=value("policy", CampaignRouting.Policy.LEARNED),
        budget_share=share,
        budget_count=count,
        audit=value("audit", 0.05),
        judges=judges,
        tagger=tagger,
        refit_every=value("refit_every", 20),
        seed=value("seed", 0),
    )
    if routing.enabled:
        request_routing(campaign.pk, force=True)
    return routing


def request_routing(campaign_id: int, *, force: bool = False, countdown: float = 1) -> None:
    """Queue one routing pass for the campaign unless one is already queued (a burst of verdicts costs one)."""
    if force:
        cache.delete(ROUTE_QUEUED_KEY.format(campaign_id))
    if cache.add(ROUTE_QUEUED_KEY.format(campaign_id), 1, timeout=60):
        transaction.on_commit(  # by name (routing/tasks.py registers it): services never import tasks
            lambda: current_app.send_task("routing.route_campaign", args=(campaign_id,), countdown=countdown)
        )


# Whether any campaign routes, remembered per process for a few seconds: every arena vote passes
# through judgment_saved, almost none is on a routed item, and a query each would be a fourth
# database round trip on the vote path. Only human votes use it (AI verdicts are never on the vote
# path, and one may complete a routed item): a change here is seen at once (routing_changed), one made
# in another process within ROUTING_PRESENCE_TTL_S, and the minute sweep covers the gap.
ROUTING_PRESENCE_TTL_S = 30.0
_presence: dict[str, Any] = {"checked_at": float("-inf"), "any": True}


def _any_routing_enabled() -> bool:
    now = time.monotonic()
    if now - _presence["checked_at"] > ROUTING_PRESENCE_TTL_S:
        _presence.update(checked_at=now, any=CampaignRouting.objects.filter(enabled=True).exists())
    return _presence["any"]


def routing_changed() -> None:
    """A campaign's routing was saved or deleted: look again at the next verdict."""
    _presence["checked_at"] = float("-inf")


def judgment_saved(judgment: Judgment) -> None:
    """A new verdict on a routed item: an AI one may complete an item's labels; every ``refit_every`` human
    ones call for a refit."""
    if judgment.source == Judgment.Source.HUMAN and not _any_routing_enabled():
        return
    routing = (
        CampaignRouting.objects.filter(enabled=True, campaign__items__comparison_id=judgment.comparison_id)
        .only("pk", "campaign_id", "refit_every", "labels_at_fit")
        .first()
    )
    if routing is None:
        return
    if (
        judgment.source == Judgment.Source.AI
        or _human_labels(routing.campaign_id) - routing.labels_at_fit >= routing.refit_every
    ):
        request_routing(routing.campaign_id)


def _human_labels(campaign_id: int) -> int:
    return Assignment.objects.filter(
        item__campaign_id=campaign_id,
        status=Assignment.Status.SUBMITTED,
        item__kind=CampaignItem.Kind.REGULAR,
    ).count()


def _human_labels_by_comparison(items: Iterable[CampaignItem], cutoff: int | None = None) -> dict[int, str]:
    """comparison id -> the majority human label over the items' submitted judgments (id ≤ cutoff)."""
    rows = Judgment.objects.filter(
        comparison_id__in=[i.comparison_id for i in items], source=Judgment.Source.HUMAN
    )
    if cutoff is not None:
        rows = rows.filter(pk__lte=cutoff)
    labels: dict[int, list[str]] = {}
    for comparison_id, ranking in rows.values_list("comparison_id", "ranking"):
        labels.setdefault(comparison_id, []).append(label_of(ranking))
    return {cid: majority_label(found) for cid, found in labels.items()}


def _queue_missing_verdicts(
    items: Iterable[CampaignItem],
    judges: Sequence[ModelEndpoint],
    verdicts: Mapping[int, Mapping[str, Any]],
) -> None:
    """Ask each judge for the verdicts still missing (once per item and judge within the wait)."""
    wait = settings.ROUTING_JUDGE_WAIT_S
    for item in items:
        missing = [j for j in judges if j.name not in verdicts.get(item.comparison_id, {})]
        missing = [
            j
            for j in missing
            if cache.add(JUDGING_QUEUED_KEY.format(item.comparison_id, j.pk), 1, timeout=wait)
        ]
        if missing:
            queue_judging([item.comparison], missing)


def route_campaign(campaign_id: int) -> dict[str, Any]:
    """One routing pass over a routed campaign: verdicts asked for, features stored, the router fitted on
    the human labels it has (refitting only after ``refit_every`` new ones), decisions written. Idempotent;
    one pass per campaign at a time (a pass asked for meanwhile runs after it). Returns a small report."""
    running = ROUTE_RUNNING_KEY.format(campaign_id)
    if not cache.add(running, 1, timeout=settings.ROUTING_PASS_TIMEOUT_S):
        request_routing(campaign_id, force=True, countdown=5)  # what this pass was asked for runs after it
        return {"routed": False, "busy": True}
    try:
        cache.delete(ROUTE_QUEUED_KEY.format(campaign_id))
        return _route(campaign_id)
    finally:
        cache.delete(running)


def _route(campaign_id: int) -> dict[str, Any]:
    routing = (
        CampaignRouting.objects.filter(campaign_id=campaign_id, enabled=True)
        .select_related("campaign", "tagger")
        .first()
    )
    if routing is None:
        return {"routed": False}
    started = time.monotonic()
    campaign, judges = routing.campaign, list(routing.judges.all())
    items = list(
        CampaignItem.objects.filter(campaign=campaign, kind=CampaignItem.Kind.REGULAR)
        .select_related("comparison__prompt")
        .order_by("pk")
    )
    verdicts = judge_verdicts([i.comparison_id for i in items], judges)
    _queue_missing_verdicts(items, judges, verdicts)
    # An item is ready once every judge has spoken, or once it has waited long enough for a judge that failed.
    patience = timezone.now() - timedelta(seconds=settings.ROUTING_JUDGE_WAIT_S)
    ready = [
        i for i in items if len(verdicts.get(i.comparison_id, {})) == len(judges) or i.created_at < patience
    ]
    served = routing_records.served_item_ids(campaign)

    features: dict[int, dict[str, Any]] = {}
    contents = stored_features([item.comparison for item in ready], judges, routing.tagger)
    for item in ready:
        content = contents[item.comparison_id]
        lengths = (content.get("len_a", 0), content.get("len_b", 0))
        features[item.pk] = {**content, **verdict_features(verdicts.get(item.comparison_id, {}), lengths)}

    # The model learns from items people labelled up to the last refit's cutoff; it refits after refit_every new labels.
    labelled = _human_labels(campaign.pk)
    newest = (
        Judgment.objects.filter(
            source=Judgment.Source.HUMAN, comparison__campaign_items__campaign=campaign
        ).aggregate(last=Max("pk"))["last"]
        or 0
    )
    refit = not routing.model_version or labelled - routing.labels_at_fit >= routing.refit_every
    cutoff = newest if refit else routing.fit_cutoff
    human = _human_labels_by_comparison(ready, cutoff)
    seed_items = [i for i in ready if human.get(i.comparison_id) and features[i.pk]["ai_label"] != "none"]
    budget = routing_records.human_budget(routing, len(items))
    movable = [i for i in ready if i.pk not in served]
    remaining = max(0, budget - len(served & {i.pk for i in items}))
    router = Router(
        policy=routing.policy,
        budget=min(1.0, remaining / len(movable)) if movable else 0.0,
        audit=routing.audit,
        seed=routing.seed,
    )
    router.fit(
        [features[i.pk] for i in seed_items],
        [features[i.pk]["ai_label"] for i in seed_items],
        [human[i.comparison_id] for i in seed_items],
    )
    # Ids make the random draws (audit, ties) a property of each item, stable across refits.
    chosen = (
        set(
            router.choose(
                [features[i.pk] for i in movable],
                [_ai_label(features[i.pk]) for i in movable],
                ids=[i.comparison_id for i in movable],
            )
        )
        if movable
        else set()
    )
    decisions: dict[int, dict[str, Any]] = {}
    for index, item in enumerate(movable):
        decision = router.decisions[index]
        decisions[item.pk] = {
            "destination": RoutingDecision.Destination.HUMAN
            if index in chosen
            else RoutingDecision.Destination.AI,
            "policy": decision.policy,
            "predicted_gain": decision.predicted_gain,
            "reason": router.explain(index),
            "audit": decision.audit,
            **_item_fields(features[item.pk]),
        }
    for item in ready:
        if item.pk in served:  # stays with people (record_decisions keeps an earlier human decision as it is)
            decisions[item.pk] = {
                "destination": RoutingDecision.Destination.HUMAN,
                "policy": routing.policy,
                "predicted_gain": None,
                "reason": routing_records.SERVED_REASON,
                "audit": False,
                **_item_fields(features[item.pk]),
            }
    version = router.model_version
    changed = routing_records.record_decisions(
        campaign,
        decisions,
        model_version=version,
        fit_cutoff=cutoff if refit else None,
        labels_at_fit=labelled if refit else None,
    )
    routing_records.record_estimates(campaign, _estimates(campaign, items, features, version))
    report = {
        "routed": True,
        "items": len(items),
        "ready": len(ready),
        "to_people": len(chosen),
        "budget": budget,
        "refit": refit,
        "seed_set": len(seed_items),
        "changed": changed,
        "seconds": round(time.monotonic() - started, 2),
    }
    log.info("routed campaign %s: %s", campaign.slug, report)
    return report


def _item_fields(features: Mapping[str, Any]) -> dict[str, Any]:
    """What a decision records of the item itself: its slice and the AI judges' label and confidence."""
    label = features["ai_label"]
    return {
        "slice": str(features.get("tag_domain", "")),
        "ai_label": "" if label == "none" else label,
        "ai_confidence": features["ai_confidence"],
    }


def _ai_label(features: Mapping[str, Any]) -> str:
    label = features["ai_label"]
    return label if label in ("a", "b", "tie") else "tie"


def _estimates(
    campaign: Campaign,
    items: Sequence[CampaignItem],
    features: Mapping[int, Mapping[str, Any]],
    model_version: str,
) -> dict[str, Any]:
    """What the dashboard and the dataset card show: AI–human agreement per slice from the audit share
    (an unbiased sample), predicted against realised gain, and where items went."""
    decisions = {d.item_id: d for d in routing_records.decisions_of(campaign)}
    human = _human_labels_by_comparison(items)
    audit_slices, audit_ai, audit_human = [], [], []
    predicted, realised = [], []
    for item in items:
        decision, label = decisions.get(item.pk), human.get(item.comparison_id)
        ai = features.get(item.pk, {}).get("ai_label")
        if decision is None or label is None or ai in (None, "none"):
            continue
        if decision.audit:
            audit_slices.append(decision.slice or "all")
            audit_ai.append(ai)
            audit_human.append(label)
        if decision.predicted_gain is not None:
            predicted.append(decision.predicted_gain)
            realised.append(1.0 if ai != label else 0.0)
    by_slice = {}
    if audit_ai:
        by_slice = agreement_by_slice(audit_slices, audit_ai, audit_human)
        overall = agreement_by_slice(["all"] * len(audit_ai), audit_ai, audit_human)
        by_slice = {**{str(k): v for k, v in by_slice.items()}, "(all)": overall["all"]}
    return {
        "model_version": model_version,
        "agreement_by_slice": {k: _agreement_dict(v) for k, v in sorted(by_slice.items())},
        "predicted_gain_mean": round(sum(predicted) / len(predicted), 4) if predicted else None,
        "realised_gain_mean": round(sum(realised) / len(realised), 4) if realised else None,
        "gain_pairs": [[round(p, 4), r] for p, r in zip(predicted, realised)][:2000],
        "audit_labelled": len(audit_ai),
    }


def _agreement_dict(value: tuple[float, float, float, int]) -> dict[str, float | int]:
    rate, low, high, n = value
    return {"rate": round(rate, 4), "low": round(low, 4), "high": round(high, 4), "n": n}
