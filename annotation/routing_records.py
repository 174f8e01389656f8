"""The routing rows annotation owns (CampaignRouting, RoutingDecision): checked writes and the reads the
queue, the dashboard and the export need. The router itself (routing/) calls these; nothing here knows
how it decides."""

from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from inference.models import ModelEndpoint

from .models import Assignment, Campaign, CampaignItem, CampaignRouting, Judgment, RoutingDecision

ROUTED_K = 2
SERVED_REASON = "People were already served this item, so it stays with them."


class RoutingInvalid(ValueError):
    """A routing setting is out of range or does not fit the campaign; the sentence says which."""


def routing_of(campaign):
    """The campaign's routing row, or None when routing was never set up."""
    return CampaignRouting.objects.filter(campaign=campaign).prefetch_related("judges").first()


def is_routed(campaign):
    return CampaignRouting.objects.filter(campaign=campaign, enabled=True).exists()


def _fraction(value, name):
    if isinstance(value, bool) or value is None:
        raise RoutingInvalid(f"The {name} must be a number between 0 and 1, not {value!r}.")
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise RoutingInvalid(f"The {name} must be a number between 0 and 1, not {value!r}.") from None
    if not 0.0 <= value <= 1.0:  # also refuses NaN
        raise RoutingInvalid(f"The {name} must be between 0 and 1; got {value}.")
    return value


def _whole(value, name, minimum):
    if isinstance(value, bool):
        raise RoutingInvalid(f"The {name} must be a whole number, not {value!r}.")
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        raise RoutingInvalid(f"The {name} must be a whole number, not {value!r}.") from None
    if number < minimum:
        raise RoutingInvalid(f"The {name} must be at least {minimum}; got {number}.")
    return number


def _endpoints(names_or_ids, *, judges):
    found = []
    for value in names_or_ids:
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            raise RoutingInvalid(f"Name a model endpoint by its name or id, not {value!r}.")
        query = Q(name=value) if isinstance(value, str) and not value.isdigit() else Q(pk=int(value))
        endpoint = ModelEndpoint.objects.filter(query).first()
        if endpoint is None:
            raise RoutingInvalid(f"There is no model endpoint {value!r}.")
        if judges and not endpoint.judge_method:
            raise RoutingInvalid(
                f"{endpoint.name} is not a judge endpoint: set its judge method in the admin, or choose another."
            )
        found.append(endpoint)
    return found


@transaction.atomic
def save_routing(
    campaign,
    *,
    enabled,
    policy,
    budget_share=None,
    budget_count=None,
    audit=0.05,
    judges=(),
    tagger=None,
    refit_every=20,
    seed=0,
):
    """Create or change a campaign's routing settings; RoutingInvalid names what to fix, and nothing is
    written then. Judges and the tagger are endpoint names or ids."""
    if not isinstance(enabled, bool):
        raise RoutingInvalid(f"'enabled' must be true or false, not {enabled!r}.")
    if policy not in CampaignRouting.Policy.values:
        raise RoutingInvalid(
            f"Unknown routing policy {policy!r}; choose one of: {', '.join(CampaignRouting.Policy.values)}."
        )
    if (budget_share is None) == (budget_count is None):
        raise RoutingInvalid(
            "Give the human budget either as a share of the items (0–1) or as a count, not both."
        )
    items = CampaignItem.objects.filter(campaign=campaign, kind=CampaignItem.Kind.REGULAR).count()
    if budget_share is not None:
        budget_share = _fraction(budget_share, "human budget share")
    else:
        budget_count = _whole(budget_count, "human budget count", 0)
        if budget_count > items:
            raise RoutingInvalid(
                f"The human budget ({budget_count} items) is above the campaign's {items} items; "
                "give at most the item count, or a share."
            )
    audit = _fraction(audit, "audit share")
    refit_every = _whole(refit_every, "refit interval", 1)
    seed = _whole(seed, "seed", -(2**31))
    if isinstance(judges, (str, bytes)) or not isinstance(judges, (list, tuple)):
        raise RoutingInvalid("Judges must be a list of judge endpoint names, e.g. [\"judge-a\"].")
    judge_rows = _endpoints(judges, judges=True)
    tagger_row = _endpoints([tagger], judges=False)[0] if tagger not in (None, "") else None
    if enabled:
        if not judge_rows:
            raise RoutingInvalid("Routing needs at least one AI judge to label every item first; choose one.")
        if campaign.k != ROUTED_K:
            raise RoutingInvalid(
                f"Routing works on pairwise campaigns (K = 2) for now; this campaign shows {campaign.k} answers."
            )
    routing, _ = CampaignRouting.objects.select_for_update().get_or_create(campaign=campaign)
    routing.enabled, routing.policy, routing.audit = enabled, policy, audit
    routing.budget_share, routing.budget_count = budget_share, budget_count
    routing.tagger, routing.refit_every, routing.seed = tagger_row, refit_every, seed
    routing.save()
    routing.judges.set(judge_rows)
    return routing


def human_budget(routing, item_count):
    """How many items people may label under this routing."""
    if routing.budget_count is not None:
        return min(routing.budget_count, item_count)
    return round((routing.budget_share or 0.0) * item_count)


def served_item_ids(campaign):
    """Items someone was ever served: they stay with people whatever a refit says."""
    return set(
        Assignment.objects.filter(item__campaign=campaign).values_list("item_id", flat=True).distinct()
    )


def record_decisions(campaign, decisions, *, model_version="", fit_cutoff=None, labels_at_fit=None):
    """Store the router's decisions: ``decisions`` maps item id -> dict(destination, policy, predicted_gain,
    reason, audit, slice, ai_label, ai_confidence). An item someone was served keeps a human destination;
    an item being served right now (its row locked by a lease) is left as it is. Returns the number of
    items whose destination changed."""
    changed = 0
    with transaction.atomic():
        # Lock the items first, as a lease does (annotation.queues), so a refit and a lease never cross.
        ids = list(
            CampaignItem.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(campaign=campaign, pk__in=list(decisions))
            .values_list("pk", flat=True)
        )
        served = served_item_ids(campaign)
        existing = {d.item_id: d for d in RoutingDecision.objects.filter(item_id__in=ids)}
        for item_id in ids:
            fields = dict(decisions[item_id])
            if item_id in served:
                if item_id in existing and existing[item_id].destination == RoutingDecision.Destination.HUMAN:
                    continue  # labelled or leased by people: never moves
                fields["destination"] = RoutingDecision.Destination.HUMAN
                fields["reason"] = SERVED_REASON
            decision = existing.get(item_id)
            if decision is None:
                RoutingDecision.objects.create(item_id=item_id, model_version=model_version, **fields)
                changed += 1
                continue
            changed += decision.destination != fields["destination"]
            for key, value in fields.items():
                setattr(decision, key, value)
            decision.model_version = model_version
            decision.save()
        if fit_cutoff is not None:
            CampaignRouting.objects.filter(campaign=campaign).update(
                fit_cutoff=fit_cutoff,
                labels_at_fit=labels_at_fit or 0,
                model_version=model_version,
                fitted_at=timezone.now(),
            )
    return changed


def record_estimates(campaign, estimates):
    """The router's latest estimates (agreement per slice from the audit share, gains), for the dashboard and cards."""
    CampaignRouting.objects.filter(campaign=campaign).update(estimates=estimates)


def routed_to_people():
    """A Q on CampaignItem: items a routed campaign sends to people (gold and attention checks always go)."""
    routed = Exists(CampaignRouting.objects.filter(campaign=OuterRef("campaign"), enabled=True))
    return (
        ~Q(routed)
        | ~Q(kind=CampaignItem.Kind.REGULAR)
        | Q(routing__destination=RoutingDecision.Destination.HUMAN)
    )


def decisions_of(campaign):
    return RoutingDecision.objects.filter(item__campaign=campaign).select_related("item")


def routed_campaigns():
    return Campaign.objects.filter(routing__enabled=True)


def routed_mix():
    """A Q on Judgment: the routed mix of every campaign that has routing decisions. On each routed
    item, the human judgments where people labelled it, and the AI judges' verdicts elsewhere."""
    routed_item = RoutingDecision.objects.filter(item__comparison=OuterRef("comparison_id"))
    human_label = Judgment.objects.filter(comparison=OuterRef("comparison_id"), source=Judgment.Source.HUMAN)
    on_routed_item = Q(Exists(routed_item))
    return on_routed_item & (
        Q(source=Judgment.Source.HUMAN) | (Q(source=Judgment.Source.AI) & ~Q(Exists(human_label)))
    )


def routing_reasons(comparison_ids):
    """comparison id -> (destination, reason, policy) for the routed items among these comparisons."""
    rows = RoutingDecision.objects.filter(item__comparison_id__in=list(comparison_ids)).values_list(
        "item__comparison_id", "destination", "reason", "policy"
    )
    return {cid: (destination, reason, policy) for cid, destination, reason, policy in rows}


def routing_summaries(campaign_slugs=None):
    """Per routed campaign: its budget, policy, and the router's latest estimates (for dataset cards)."""
    rows = CampaignRouting.objects.filter(
        Exists(RoutingDecision.objects.filter(item__campaign=OuterRef("campaign")))
    ).select_related("campaign")
    if campaign_slugs:
        rows = rows.filter(campaign__slug__in=list(campaign_slugs))
    return [
        {
            "campaign": r.campaign.slug,
            "budget": r.budget_text,
            "policy": r.policy,
            "audit": r.audit,
            "model_version": r.model_version,
            "estimates": r.estimates,
        }
        for r in rows.order_by("campaign__slug")
    ]
