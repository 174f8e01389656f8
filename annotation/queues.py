"""Queues and assignment: leases that expire, skip with a reason, submit, and undo within a short window.

Safe under many annotators at once: an item's lease count is only read and changed while its row is
locked (SELECT … FOR UPDATE SKIP LOCKED on PostgreSQL, so annotators racing for the same item move on
to the next one instead of waiting).

Self-consistency repeats (Campaign.repeat_rate): at that rate, an item the annotator judged at least
``repeat_after`` submissions ago is served again in a new random order. The repeat is a RepeatCheck row
(see annotation.models), never a second Judgment or Assignment, so overlap, agreement and rankings never
count it. Skipped items come back to the same annotator only when Campaign.reoffer_skipped is on, and then
only after every item they have not seen yet."""

import random
from datetime import timedelta

from django.db import IntegrityError, connection, transaction
from django.db.models import Count, F, Q
from django.utils import timezone

from . import quality
from .campaigns import CampaignForbidden, require_annotate
from .models import AnnotatorStanding, Assignment, Campaign, CampaignItem, Judgment, RepeatCheck
from .routing_records import is_routed, routed_to_people
from .rubrics import check_submission, validate_spec
from .services import record_judgment

CANDIDATE_BATCH = 25


class QueueEmpty(LookupError):
    """Nothing left for this annotator right now."""


class NotAssigned(LookupError):
    """The item is not held by this annotator."""


class AssignmentGone(ValueError):
    """The lease ran out and the item went to others (HTTP 409)."""


class CampaignNotOpen(ValueError):
    """Paused or closed (HTTP 409)."""


def _require_open(campaign):
    if campaign.status != Campaign.Status.OPEN:
        raise CampaignNotOpen(f"This campaign is {campaign.status}; it does not take new work now.")


def _require_not_paused(campaign, user):
    standing = quality.standing_of(campaign, user)
    if standing and standing.state == AnnotatorStanding.State.PAUSED:
        raise CampaignForbidden(
            "Your work on this campaign is paused: too few quality checks were answered as expected. "
            "A researcher can reopen it for you."
        )


def _active_filter(now):
    """Assignments that hold a place: submitted ones, and leases not yet expired."""
    return Q(assignments__status=Assignment.Status.SUBMITTED) | Q(
        assignments__status=Assignment.Status.LEASED, assignments__expires_at__gt=now
    )


def _lock(queryset):
    if connection.features.has_select_for_update_skip_locked:
        return queryset.select_for_update(skip_locked=True)
    return queryset.select_for_update()


def current_assignment(campaign, user):
    now = timezone.now()
    return (
        Assignment.objects.filter(
            item__campaign=campaign, annotator=user, status=Assignment.Status.LEASED, expires_at__gt=now
        )
        .select_related("item__comparison__prompt")
        .first()
    )


def current_repeat(campaign, user):
    return (
        RepeatCheck.objects.filter(
            item__campaign=campaign, annotator=user, status=RepeatCheck.Status.LEASED, expires_at__gt=timezone.now()
        )
        .select_related("item__comparison__prompt")
        .first()
    )


def _lease(item, user, campaign, now):
    """Create or renew this annotator's lease on a locked item, with a fresh random display order."""
    order = list(range(campaign.k))
    random.SystemRandom().shuffle(order)
    expires = now + timedelta(seconds=campaign.lease_seconds)
    assignment, created = Assignment.objects.get_or_create(
        item=item, annotator=user,
        defaults={"display_order": order, "leased_at": now, "expires_at": expires},
    )
    if not created:  # their own earlier lease ran out, or a skipped item offered again: same order, new clock
        assignment.leased_at, assignment.expires_at = now, expires
        assignment.status = Assignment.Status.LEASED
        assignment.save(update_fields=["leased_at", "expires_at", "status"])
    return assignment


def _new_order(k, old):
    """A random display order that differs from the old one (K ≥ 2 always allows one)."""
    rng = random.SystemRandom()
    order = list(range(k))
    while True:
        rng.shuffle(order)
        if order != list(old):
            return list(order)


def _take_repeat(campaign, user, now, rng):
    """Serve a self-consistency repeat: an expired repeat lease of theirs first, else a random item they
    judged at least ``repeat_after`` submissions ago that has not been repeated yet. None when none fits."""
    waiting = RepeatCheck.objects.select_for_update().filter(
        item__campaign=campaign, annotator=user, status=RepeatCheck.Status.LEASED
    ).first()
    if waiting is not None:
        waiting.leased_at, waiting.expires_at = now, now + timedelta(seconds=campaign.lease_seconds)
        waiting.save(update_fields=["leased_at", "expires_at"])
        return waiting
    submitted = list(
        Assignment.objects.filter(item__campaign=campaign, annotator=user, status=Assignment.Status.SUBMITTED)
        .order_by("submitted_at", "pk")
        .values_list("pk", "item__kind", "submitted_at")
    )
    repeated = set(RepeatCheck.objects.filter(original__in=[pk for pk, _, _ in submitted]).values_list("original_id", flat=True))
    eligible = [
        pk for index, (pk, kind, _) in enumerate(submitted)
        if kind == CampaignItem.Kind.REGULAR and pk not in repeated and len(submitted) - index - 1 >= campaign.repeat_after
    ]
    if not eligible:
        return None
    original = Assignment.objects.select_related("item").get(pk=rng.choice(eligible))
    try:
        with transaction.atomic():
            return RepeatCheck.objects.create(
                original=original, item=original.item, annotator=user,
                display_order=_new_order(campaign.k, original.display_order),
                leased_at=now, expires_at=now + timedelta(seconds=campaign.lease_seconds),
            )
    except IntegrityError:  # the same annotator asked twice at once; the other request made it
        return RepeatCheck.objects.filter(original=original).first()


def _take(campaign, user, kinds, now, *, capped):
    """Lease the first free item of these kinds; None when there is none."""
    done = [Assignment.Status.SUBMITTED] if campaign.reoffer_skipped else [
        Assignment.Status.SUBMITTED, Assignment.Status.SKIPPED,
    ]
    done_by_user = Assignment.objects.filter(annotator=user, item__campaign=campaign, status__in=done).values("item_id")
    routed = is_routed(campaign)
    items = CampaignItem.objects.filter(campaign=campaign, kind__in=kinds)
    if routed:  # only what the router sends to people
        items = items.filter(routed_to_people())
    candidates = (
        items.exclude(pk__in=done_by_user)
        .annotate(
            active=Count("assignments", filter=_active_filter(now)),
            skipped_by_me=Count("assignments", filter=Q(
                assignments__annotator=user, assignments__status=Assignment.Status.SKIPPED)),
        )
    )
    if capped:
        candidates = candidates.filter(active__lt=campaign.overlap)
    # items they skipped (only there when reoffer_skipped is on) come after every item they have not seen
    ids = list(candidates.order_by("skipped_by_me", "-active", "id").values_list("pk", "skipped_by_me")[:CANDIDATE_BATCH])
    if not capped:
        random.shuffle(ids)
        ids.sort(key=lambda row: row[1])
    ids = [pk for pk, _ in ids]
    for item_id in ids:
        item = _lock(CampaignItem.objects.filter(pk=item_id)).first()
        if item is None:  # another annotator holds the lock: move on
            continue
        if routed and not items.filter(pk=item.pk).exists():  # a refit moved it to the AI judges meanwhile
            continue
        if capped:
            active = item.assignments.filter(
                Q(status=Assignment.Status.SUBMITTED) | Q(status=Assignment.Status.LEASED, expires_at__gt=now)
            ).exclude(annotator=user).count()
            if active >= campaign.overlap:
                continue
        return _lease(item, user, campaign, now)
    return None


def next_assignment(campaign, user, *, rng=random):
    """The annotator's current lease, or a new one: never an item they judged (nor one they skipped, unless
    the campaign re-offers skipped items), never more holders than overlap still needs; self-consistency
    repeats and gold/attention checks mixed in at the campaign's rates. Returns an Assignment, or a
    RepeatCheck (``is_repeat``) that is shown and submitted the same way."""
    require_annotate(user, campaign)
    _require_open(campaign)
    _require_not_paused(campaign, user)
    held = current_assignment(campaign, user) or current_repeat(campaign, user)
    if held:
        return held
    now = timezone.now()
    checks = [CampaignItem.Kind.GOLD, CampaignItem.Kind.ATTENTION]
    with transaction.atomic():
        assignment = None
        if campaign.repeat_rate and rng.random() < campaign.repeat_rate:
            assignment = _take_repeat(campaign, user, now, rng)
            if assignment is not None:
                return assignment
        if campaign.gold_rate and rng.random() < campaign.gold_rate:
            assignment = _take(campaign, user, checks, now, capped=False)
        if assignment is None:
            assignment = _take(campaign, user, [CampaignItem.Kind.REGULAR], now, capped=True)
        if assignment is None:
            raise QueueEmpty("You have done everything this campaign needs from you for now. Thank you!")
    return assignment


def _leased(rows, pk, user, campaign):
    """The locked row ``pk`` of ``rows`` (assignments or repeat checks) that ``user`` holds in
    ``campaign``, still leased; NotAssigned or AssignmentGone otherwise."""
    row = rows.filter(pk=pk, annotator=user, item__campaign=campaign).first()
    if row is None:
        raise NotAssigned("This item is not assigned to you; ask for the next item instead.")
    if row.status != type(row).Status.LEASED:
        raise AssignmentGone(f"You already {row.status} this item.")
    return row


def _held(campaign, user, assignment_id):
    rows = Assignment.objects.select_for_update().select_related("item__comparison", "item__campaign")
    return _leased(rows, assignment_id, user, campaign)


def submit(campaign, user, assignment_id, payload):
    """Validate against the rubric, store the Judgment (comparison positions), close the lease; atomic."""
    require_annotate(user, campaign)
    _require_open(campaign)
    _require_not_paused(campaign, user)
    with transaction.atomic():
        assignment = _held(campaign, user, assignment_id)
        now = timezone.now()
        item = CampaignItem.objects.select_for_update().select_related("comparison").get(pk=assignment.item_id)
        if assignment.expires_at <= now and item.kind == CampaignItem.Kind.REGULAR:
            others = item.assignments.filter(
                Q(status=Assignment.Status.SUBMITTED) | Q(status=Assignment.Status.LEASED, expires_at__gt=now)
            ).exclude(pk=assignment.pk).count()
            if others >= campaign.overlap:
                raise AssignmentGone("Your time on this item ran out and it went to other annotators; take the next one.")
        spec = validate_spec(campaign.rubric.spec)
        fields, edited = check_submission(spec, campaign.k, payload, assignment.display_order)
        elapsed_ms = int((now - assignment.leased_at).total_seconds() * 1000)
        ranking = fields.pop("ranking")
        judgment, _ = record_judgment(
            item.comparison, ranking, annotator=user, identities_hidden=True,
            rubric_version=campaign.rubric.label, time_spent_ms=max(elapsed_ms, 0), **fields,
        )
        assignment.status = Assignment.Status.SUBMITTED
        assignment.submitted_at = now
        assignment.judgment = judgment
        assignment.edited_answer = edited
        quality.grade_check(assignment, judgment.ranking)
        assignment.save()
    return assignment


def _held_repeat(campaign, user, repeat_id):
    rows = RepeatCheck.objects.select_for_update(of=("self",)).select_related("item__comparison")
    return _leased(rows, repeat_id, user, campaign)


def submit_repeat(campaign, user, repeat_id, payload):
    """Check a repeat answer against the rubric like any submission and store it on the RepeatCheck
    (comparison positions); no Judgment is written, so nothing counts twice."""
    require_annotate(user, campaign)
    _require_open(campaign)
    _require_not_paused(campaign, user)
    with transaction.atomic():
        repeat = _held_repeat(campaign, user, repeat_id)
        now = timezone.now()
        spec = validate_spec(campaign.rubric.spec)
        fields, _edited = check_submission(spec, campaign.k, payload, repeat.display_order)
        repeat.ranking = fields.pop("ranking")
        repeat.answer = fields
        repeat.status = RepeatCheck.Status.SUBMITTED
        repeat.submitted_at = now
        repeat.time_spent_ms = max(int((now - repeat.leased_at).total_seconds() * 1000), 0)
        repeat.save()
    return repeat


def skip_repeat(campaign, user, repeat_id, reason):
    require_annotate(user, campaign)
    reason = _skip_reason(reason)
    with transaction.atomic():
        repeat = _held_repeat(campaign, user, repeat_id)
        repeat.status = RepeatCheck.Status.SKIPPED
        repeat.skip_reason = reason
        repeat.save(update_fields=["status", "skip_reason"])
    return repeat


def _skip_reason(reason):
    reason = (reason or "").strip()
    if not reason:
        raise ValueError("Say why you skip this item (e.g. \"I don't know the topic\").")
    if len(reason) > 300:
        raise ValueError("Keep the skip reason under 300 characters.")
    return reason


def skip(campaign, user, assignment_id, reason):
    require_annotate(user, campaign)
    reason = (reason or "").strip()
    if not reason:
        raise ValueError("Say why you skip this item (e.g. \"I don't know the topic\").")
    if len(reason) > 300:
        raise ValueError("Keep the skip reason under 300 characters.")
    with transaction.atomic():
        assignment = _held(campaign, user, assignment_id)
        assignment.status = Assignment.Status.SKIPPED
        assignment.skip_reason = reason
        assignment.save(update_fields=["status", "skip_reason"])
    return assignment


def undo_last(campaign, user):
    """Take back the annotator's last submission if it is within the campaign's undo window.

    The judgment is deleted (it was never final) and the item is leased back to them."""
    require_annotate(user, campaign)
    _require_open(campaign)
    now = timezone.now()
    with transaction.atomic():
        assignment = (
            Assignment.objects.select_for_update()
            .filter(item__campaign=campaign, annotator=user, status=Assignment.Status.SUBMITTED)
            .order_by("-submitted_at")
            .first()
        )
        repeat = (
            RepeatCheck.objects.select_for_update()
            .filter(item__campaign=campaign, annotator=user, status=RepeatCheck.Status.SUBMITTED)
            .order_by("-submitted_at")
            .first()
        )
        if repeat is not None and (assignment is None or repeat.submitted_at > assignment.submitted_at):
            assignment = repeat
        if assignment is None or assignment.submitted_at < now - timedelta(seconds=campaign.undo_seconds):
            raise ValueError(f"There is no submission from the last {campaign.undo_seconds} seconds to undo.")
        # Hand back any other lease they hold, so the undone item is the one they see.
        other_leases = Assignment.objects.filter(item__campaign=campaign, annotator=user, status=Assignment.Status.LEASED)
        other_repeats = RepeatCheck.objects.filter(item__campaign=campaign, annotator=user, status=RepeatCheck.Status.LEASED)
        if assignment.is_repeat:
            other_repeats = other_repeats.exclude(pk=assignment.pk)
        else:
            other_leases = other_leases.exclude(pk=assignment.pk)
        other_leases.update(expires_at=now)
        other_repeats.update(expires_at=now)
        if assignment.is_repeat:
            assignment.status = RepeatCheck.Status.LEASED
            assignment.ranking, assignment.answer, assignment.submitted_at, assignment.time_spent_ms = None, {}, None, None
            assignment.leased_at, assignment.expires_at = now, now + timedelta(seconds=campaign.lease_seconds)
            assignment.save()
            return assignment
        judgment = assignment.judgment
        quality.ungrade_check(assignment)
        assignment.status = Assignment.Status.LEASED
        assignment.judgment = None
        assignment.submitted_at = None
        assignment.edited_answer = ""
        assignment.leased_at = now
        assignment.expires_at = now + timedelta(seconds=campaign.lease_seconds)
        assignment.save()
        Judgment.objects.filter(pk=judgment.pk).delete()
    return assignment


def progress(campaign, user):
    """What the annotator and the campaign have done (of a routed campaign, the items routed to people)."""
    regular = campaign.items.filter(kind=CampaignItem.Kind.REGULAR)
    items = (regular.filter(routed_to_people()) if is_routed(campaign) else regular).count()
    mine = Assignment.objects.filter(item__campaign=campaign, annotator=user, status=Assignment.Status.SUBMITTED).count()
    judged = Assignment.objects.filter(
        item__campaign=campaign, item__kind=CampaignItem.Kind.REGULAR, status=Assignment.Status.SUBMITTED
    ).count()
    return {"mine": mine, "items": items, "judged": judged, "wanted": items * campaign.overlap}
