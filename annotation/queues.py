"""Queues and assignment: leases that expire, skip with a reason, submit, and undo within a short window.

Safe under many annotators at once: an item's lease count is only read and changed while its row is
locked (SELECT … FOR NO KEY UPDATE SKIP LOCKED on PostgreSQL, so annotators racing for the same item move on
to the next one instead of waiting). A locked row says nothing about whether the item has room, so when the
only items left are locked, `next` waits for one (at most CAMPAIGN_QUEUE_LOCK_WAIT_SECONDS, then QueueBusy)
rather than say "nothing left". Writes lock only the rows they change (``of=("self",)``): never the campaign
row, which would queue every submit of a campaign behind the one before it.

Self-consistency repeats (Campaign.repeat_rate): at that rate, an item the annotator judged at least
``repeat_after`` submissions ago is served again in a new random order. The repeat is a RepeatCheck row
(see annotation.models), never a second Judgment or Assignment, so overlap, agreement and rankings never
count it. Skipped items come back to the same annotator only when Campaign.reoffer_skipped is on, and then
only after every item they have not seen yet."""

import math
import random
import time
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, OperationalError, connection, transaction
from django.db.models import Count, F, Func, Max, Q, Subquery
from django.utils import timezone

from . import quality
from .campaigns import CampaignForbidden, require_annotate
from .errors import HasStatus
from .models import (
    AnnotatorStanding,
    Assignment,
    Campaign,
    CampaignItem,
    Judgment,
    JudgmentRevision,
    RepeatCheck,
)
from .routing_records import is_routed, routed_to_people
from .rubrics import check_submission, validate_spec
from .services import record_judgment

CANDIDATE_BATCH = 25


class QueueEmpty(LookupError):
    """Nothing left for this annotator right now."""


class QueueBusy(HasStatus, Exception):
    """Every item left for this annotator was locked by other requests for the whole bounded wait (HTTP 503,
    Retry-After): something may well be left, so ask again."""

    status_code = 503
    retry_after = 1  # seconds

    def __init__(self):
        super().__init__(
            "Other annotators are working on the items left for you right now; try again in a moment."
        )


class NotAssigned(HasStatus, LookupError):
    """The item is not held by this annotator."""

    status_code = 403


class AssignmentGone(HasStatus, ValueError):
    """The lease ran out and the item went to others."""

    status_code = 409


class CampaignNotOpen(HasStatus, ValueError):
    """Paused or closed."""

    status_code = 409


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


def _lock_item(item_id, *, wait_until=None):
    """The item, its row locked for this transaction; None when another transaction holds the row: at once
    (SKIP LOCKED), or with ``wait_until`` (time.monotonic()) only once waiting for the row lasted until then.

    FOR NO KEY UPDATE: the lock only serialises the lease count; inserts that reference the item (a lease, a
    judgment) need not wait for it. Its comparison and prompt come along (unlocked) for the page."""
    rows = CampaignItem.objects.filter(pk=item_id).select_related("comparison__prompt")
    if not connection.features.has_select_for_update_skip_locked:  # SQLite: one writer at a time anyway
        return rows.select_for_update().first()
    if wait_until is None:
        return rows.select_for_update(skip_locked=True, no_key=True, of=("self",)).first()
    with connection.cursor() as cursor:
        cursor.execute("SHOW lock_timeout")
        previous = cursor.fetchone()[0]
        wait_ms = max(1, int((wait_until - time.monotonic()) * 1000))  # 0 would mean "wait forever"
        cursor.execute("SELECT set_config('lock_timeout', %s, true)", [f"{wait_ms}ms"])
    try:
        with transaction.atomic():  # a lock timeout aborts only this savepoint
            item = rows.select_for_update(no_key=True, of=("self",)).first()
    except OperationalError as exc:
        if getattr(exc.__cause__, "sqlstate", None) != "55P03":  # lock_not_available
            raise
        item = None
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config('lock_timeout', %s, true)", [previous])
    return item


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
            item__campaign=campaign,
            annotator=user,
            status=RepeatCheck.Status.LEASED,
            expires_at__gt=timezone.now(),
        )
        .select_related("item__comparison__prompt")
        .first()
    )


_UNREAD = object()


def _lease(item, user, campaign, now, *, mine=_UNREAD):
    """Create or renew this annotator's lease on an item, with a fresh random display order. ``mine``: the pk
    of their assignment on it, or None, as read while the item's row is locked (no other lease of theirs can
    appear then, so a plain INSERT does); unread for checks, which take no lock."""
    order = list(range(campaign.k))
    random.SystemRandom().shuffle(order)
    expires = now + timedelta(seconds=campaign.lease_seconds)
    fresh = {"display_order": order, "leased_at": now, "expires_at": expires}
    if mine is None:
        return Assignment.objects.create(item=item, annotator=user, **fresh)
    if mine is _UNREAD:
        assignment, created = Assignment.objects.get_or_create(item=item, annotator=user, defaults=fresh)
    else:
        assignment, created = Assignment.objects.get(pk=mine), False
    if not created:  # their own earlier lease ran out, or a skipped item offered again: same order, new clock
        assignment.leased_at, assignment.expires_at = now, expires
        assignment.status = Assignment.Status.LEASED
        assignment.save(update_fields=["leased_at", "expires_at", "status"])
    assignment.item = item
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
    waiting = (
        RepeatCheck.objects.select_for_update(of=("self",))
        .filter(item__campaign=campaign, annotator=user, status=RepeatCheck.Status.LEASED)
        .first()
    )
    if waiting is not None:
        waiting.leased_at, waiting.expires_at = now, now + timedelta(seconds=campaign.lease_seconds)
        waiting.save(update_fields=["leased_at", "expires_at"])
        return waiting
    submitted = list(
        Assignment.objects.filter(item__campaign=campaign, annotator=user, status=Assignment.Status.SUBMITTED)
        .order_by("submitted_at", "pk")
        .values_list("pk", "item__kind", "submitted_at")
    )
    repeated = set(
        RepeatCheck.objects.filter(original__in=[pk for pk, _, _ in submitted]).values_list(
            "original_id", flat=True
        )
    )
    eligible = [
        pk
        for index, (pk, kind, _) in enumerate(submitted)
        if kind == CampaignItem.Kind.REGULAR
        and pk not in repeated
        and len(submitted) - index - 1 >= campaign.repeat_after
    ]
    if not eligible:
        return None
    original = Assignment.objects.select_related("item").get(pk=rng.choice(eligible))
    try:
        with transaction.atomic():
            return RepeatCheck.objects.create(
                original=original,
                item=original.item,
                annotator=user,
                display_order=_new_order(campaign.k, original.display_order),
                leased_at=now,
                expires_at=now + timedelta(seconds=campaign.lease_seconds),
            )
    except IntegrityError:  # the same annotator asked twice at once; the other request made it
        return RepeatCheck.objects.filter(original=original).first()


def _done_statuses(campaign):
    """An annotator's assignment in these states keeps the item from being served to them again."""
    if campaign.reoffer_skipped:
        return [Assignment.Status.SUBMITTED]
    return [Assignment.Status.SUBMITTED, Assignment.Status.SKIPPED]


def _candidate_ids(campaign, user, kinds, now, *, capped, routed=False, exclude=()):
    """Up to CANDIDATE_BATCH items of these kinds the annotator may take, best first, leaving out ``exclude``
    (capped: only those with room, as last read; routed: only those the router sends to people)."""
    done_by_user = Assignment.objects.filter(
        annotator=user, item__campaign=campaign, status__in=_done_statuses(campaign)
    ).values("item_id")
    items = CampaignItem.objects.filter(campaign=campaign, kind__in=kinds)
    if routed:  # only what the router sends to people
        items = items.filter(routed_to_people())
    candidates = (
        items.exclude(pk__in=done_by_user)
        .exclude(pk__in=list(exclude))
        .annotate(
            active=Count("assignments", filter=Assignment.objects.place_held(now, "assignments__")),
            skipped_by_me=Count(
                "assignments",
                filter=Q(assignments__annotator=user, assignments__status=Assignment.Status.SKIPPED),
            ),
        )
    )
    if capped:
        candidates = candidates.filter(active__lt=campaign.overlap)
    # items they skipped (only there when reoffer_skipped is on) come after every item they have not seen
    ids = list(
        candidates.order_by("skipped_by_me", "-active", "id").values_list("pk", "skipped_by_me")[
            :CANDIDATE_BATCH
        ]
    )
    if not capped:
        random.shuffle(ids)
        ids.sort(key=lambda row: row[1])
    return [pk for pk, _ in ids]


def _take_check(campaign, user, now):
    """Lease a gold or attention check; None when none is left. Checks have no overlap cap, so there is no
    count to guard and no row lock to skip or wait for (and routing always sends them to people)."""
    ids = _candidate_ids(
        campaign, user, [CampaignItem.Kind.GOLD, CampaignItem.Kind.ATTENTION], now, capped=False
    )
    if not ids:
        return None
    return _lease(
        CampaignItem.objects.select_related("comparison__prompt").get(pk=ids[0]), user, campaign, now
    )


def _take(campaign, user, now):
    """Lease the first regular item that still has room for this annotator; None only when none is left.

    Items whose rows other requests hold are passed over first; if nothing else fits, wait for one of them
    (the lock may end in a lease that fills it, or in a submit or skip that leaves room) and look again,
    until CAMPAIGN_QUEUE_LOCK_WAIT_SECONDS run out: QueueBusy then, never a false "nothing left"."""
    deadline = time.monotonic() + settings.CAMPAIGN_QUEUE_LOCK_WAIT_SECONDS
    routed = is_routed(campaign)
    wait_for = None
    while True:
        savepoint = transaction.savepoint()
        if wait_for is not None and _lock_item(wait_for, wait_until=deadline) is None:
            transaction.savepoint_rollback(savepoint)
            raise QueueBusy()
        locked, stale, tried = [], False, []
        # every candidate once, a batch at a time (by id, not by rank: a rank may change between reads)
        while batch := _candidate_ids(
            campaign, user, [CampaignItem.Kind.REGULAR], now, capped=True, routed=routed, exclude=tried
        ):
            for item_id in batch:
                tried.append(item_id)
                item = _lock_item(item_id)
                if item is None:  # another request holds it: try the others first
                    locked.append(item_id)
                    continue
                if routed and not CampaignItem.objects.filter(routed_to_people(), pk=item.pk).exists():
                    stale = True  # a refit moved it to the AI judges meanwhile
                    continue
                # read after the lock: every lease or submit that held it before is committed and counted
                held = Assignment.objects.filter(item=item).aggregate(
                    others=Count("pk", filter=Assignment.objects.place_held(now) & ~Q(annotator=user)),
                    mine=Max("pk", filter=Q(annotator=user)),
                    my_status=Max("status", filter=Q(annotator=user)),  # one row at most
                )
                if held["others"] < campaign.overlap and held["my_status"] not in _done_statuses(campaign):
                    transaction.savepoint_commit(savepoint)
                    return _lease(item, user, campaign, now, mine=held["mine"])
                stale = True  # filled, or finished by them in another request, since the candidates were read
        # let go of the rows locked in vain, so this request never waits for a lock while holding one; a
        # stale read is read again
        transaction.savepoint_rollback(savepoint)
        if not locked and not stale:
            return None
        if time.monotonic() >= deadline:
            raise QueueBusy()
        wait_for = locked[0] if locked else None
        now = timezone.now()


def _served_counts(campaign, user):
    """(items this annotator submitted or skipped here, how many of them were gold/attention checks)."""
    rows = Assignment.objects.filter(
        item__campaign=campaign,
        annotator=user,
        status__in=[Assignment.Status.SUBMITTED, Assignment.Status.SKIPPED],
    )
    counts = rows.aggregate(
        served=Count("id"), checked=Count("id", filter=~Q(item__kind=CampaignItem.Kind.REGULAR))
    )
    return counts["served"], counts["checked"]


def next_assignment(campaign, user, *, rng=random):
    """The annotator's current lease, or a new one: never an item they judged (nor one they skipped, unless
    the campaign re-offers skipped items), never more holders than overlap still needs; self-consistency
    repeats and gold/attention checks mixed in at the campaign's rates. A check is served by chance at the
    gold rate, and always when the annotator is behind it (fewer checks than gold_rate × items served,
    counting this one) or has run out of regular items while owed one, so everyone who judges 1/gold_rate
    items meets a check. Returns an Assignment, or a
    RepeatCheck (``is_repeat``) that is shown and submitted the same way."""
    require_annotate(user, campaign)
    _require_open(campaign)
    _require_not_paused(campaign, user)
    held = current_assignment(campaign, user) or current_repeat(campaign, user)
    if held:
        return held
    now = timezone.now()
    with transaction.atomic():
        assignment = None
        if campaign.repeat_rate and rng.random() < campaign.repeat_rate:
            assignment = _take_repeat(campaign, user, now, rng)
            if assignment is not None:
                return assignment
        served, checked = _served_counts(campaign, user) if campaign.gold_rate else (0, 0)
        if campaign.gold_rate and (
            rng.random() < campaign.gold_rate or checked + 1 <= campaign.gold_rate * (served + 1)
        ):
            assignment = _take_check(campaign, user, now)
        if assignment is None:
            assignment = _take(campaign, user, now)
        if assignment is None and checked < math.ceil(campaign.gold_rate * served):
            assignment = _take_check(campaign, user, now)  # no regular item left: checks still owed
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
    # of=self: the joined item and campaign rows stay unlocked (the campaign row would queue every skip of
    # the campaign behind one another)
    return _leased(Assignment.objects.select_for_update(of=("self",)), assignment_id, user, campaign)


def submit(campaign, user, assignment_id, payload):
    """Validate against the rubric, store the Judgment (comparison positions), close the lease; atomic."""
    require_annotate(user, campaign)
    _require_open(campaign)
    _require_not_paused(campaign, user)
    with transaction.atomic():
        # one statement locks the assignment and its item (the item lock guards overlap when the lease ran
        # out: no `next` counts places on it meanwhile); the comparison and the campaign row stay unlocked
        rows = Assignment.objects.select_for_update(of=("self", "item"), no_key=True).select_related(
            "item__comparison"
        )
        try:
            assignment = _leased(rows, assignment_id, user, campaign)
        except AssignmentGone:
            if _same_as_submitted(campaign, user, assignment_id, payload):
                return Assignment.objects.get(
                    pk=assignment_id
                )  # a retried identical submit, as the arena vote
            raise
        now = timezone.now()
        item = assignment.item
        item.campaign = campaign  # checked by _leased: grading a check reads it
        if assignment.expires_at <= now and item.kind == CampaignItem.Kind.REGULAR:
            others = item.assignments.holding_place(now).exclude(pk=assignment.pk).count()
            if others >= campaign.overlap:
                raise AssignmentGone(
                    "Your time on this item ran out and it went to other annotators; take the next one."
                )
        spec = validate_spec(campaign.rubric.spec)
        fields, edited = check_submission(spec, campaign.k, payload, assignment.display_order)
        elapsed_ms = int((now - assignment.leased_at).total_seconds() * 1000)
        ranking = fields.pop("ranking")
        judgment, _ = record_judgment(
            item.comparison,
            ranking,
            annotator=user,
            identities_hidden=True,
            rubric_version=campaign.rubric.label,
            time_spent_ms=max(elapsed_ms, 0),
            **fields,
        )
        assignment.status = Assignment.Status.SUBMITTED
        assignment.submitted_at = now
        assignment.judgment = judgment
        assignment.edited_answer = edited
        quality.grade_check(assignment, judgment.ranking)
        assignment.save(update_fields=["status", "submitted_at", "judgment", "edited_answer", "check_passed"])
    return assignment


def _same_as_submitted(campaign, user, assignment_id, payload):
    """Whether ``payload`` is exactly the answer this annotator already submitted on this assignment."""
    done = (
        Assignment.objects.filter(
            pk=assignment_id,
            annotator=user,
            item__campaign=campaign,
            status=Assignment.Status.SUBMITTED,
        )
        .select_related("judgment")
        .first()
    )
    if done is None:
        return False
    try:
        fields, edited = check_submission(
            validate_spec(campaign.rubric.spec), campaign.k, payload, done.display_order
        )
    except ValueError:
        return False
    return answer_of(done.judgment) == fields and done.edited_answer == edited


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
        repeat.skipped_at = timezone.now()
        repeat.save(update_fields=["status", "skip_reason", "skipped_at"])
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
    reason = _skip_reason(reason)
    with transaction.atomic():
        assignment = _held(campaign, user, assignment_id)
        assignment.status = Assignment.Status.SKIPPED
        assignment.skip_reason = reason
        assignment.skipped_at = timezone.now()
        assignment.save(update_fields=["status", "skip_reason", "skipped_at"])
    return assignment


# The parts of an answer besides its ranking, as stored on a Judgment (and in RepeatCheck.answer).
ANSWER_FIELDS = ("strength", "confidence", "aspects", "reason_tags", "rationale", "none_acceptable")


def answer_of(judgment):
    """A judgment's answer in comparison positions: {"ranking": …, "strength": …, …}."""
    return {"ranking": judgment.ranking, **{name: getattr(judgment, name) for name in ANSWER_FIELDS}}


def _latest_action(campaign, user):
    """The annotator's latest submission or skip in this campaign (an Assignment or a RepeatCheck, locked),
    with its time; (None, None) when there is none."""
    latest = (None, None)
    for model in (Assignment, RepeatCheck):
        rows = model.objects.select_for_update(of=("self",)).filter(item__campaign=campaign, annotator=user)
        for status, stamp in ((model.Status.SUBMITTED, "submitted_at"), (model.Status.SKIPPED, "skipped_at")):
            row = rows.filter(status=status, **{f"{stamp}__isnull": False}).order_by(f"-{stamp}").first()
            if row is not None and (latest[0] is None or getattr(row, stamp) > latest[0]):
                latest = (getattr(row, stamp), row)
    return latest


def undo_last(campaign, user):
    """Take back the annotator's latest action, a submission or a skip, if it is within the campaign's undo
    window; the item is leased back to them. Undo after a skip takes back the skip, never the submission
    before it (a second undo takes that one, while its window lasts).

    A submission's judgment is deleted (it was never final); the answer it held comes back on the returned
    row as ``undone`` = {"action": "submission" | "skip", "answer": {...} in comparison positions or None,
    "edited_answer": …, "skip_reason": …}, so the page can show the item as it was given."""
    require_annotate(user, campaign)
    _require_open(campaign)
    now = timezone.now()
    with transaction.atomic():
        when, row = _latest_action(campaign, user)
        if row is None or when < now - timedelta(seconds=campaign.undo_seconds):
            raise ValueError(
                f"There is no submission or skip from the last {campaign.undo_seconds} seconds to undo."
            )
        # Hand back any other lease they hold, so the undone item is the one they see.
        other_leases = Assignment.objects.filter(
            item__campaign=campaign, annotator=user, status=Assignment.Status.LEASED
        )
        other_repeats = RepeatCheck.objects.filter(
            item__campaign=campaign, annotator=user, status=RepeatCheck.Status.LEASED
        )
        if row.is_repeat:
            other_repeats = other_repeats.exclude(pk=row.pk)
        else:
            other_leases = other_leases.exclude(pk=row.pk)
        other_leases.update(expires_at=now)
        other_repeats.update(expires_at=now)
        skipped = row.status == type(row).Status.SKIPPED
        undone = {
            "action": "skip" if skipped else "submission",
            "answer": None,
            "edited_answer": "",
            "skip_reason": row.skip_reason,
        }
        row.status = type(row).Status.LEASED
        row.leased_at, row.expires_at = now, now + timedelta(seconds=campaign.lease_seconds)
        row.skip_reason, row.skipped_at = "", None
        if skipped:
            pass
        elif row.is_repeat:
            undone["answer"] = {"ranking": row.ranking, **row.answer}
            row.ranking, row.answer, row.submitted_at, row.time_spent_ms = None, {}, None, None
        else:
            judgment = row.judgment
            undone["answer"], undone["edited_answer"] = answer_of(judgment), row.edited_answer
            quality.ungrade_check(row)
            row.judgment, row.submitted_at, row.edited_answer = None, None, ""
        row.save()
        if not skipped and not row.is_repeat:
            Judgment.objects.filter(pk=judgment.pk).delete()
    row.undone = undone
    return row


def revise(campaign, user, assignment_id, payload):
    """Replace the annotator's submitted answer on an item with a new one, keeping the one it replaces as a
    JudgmentRevision; only while the campaign is open and allows revisions. Returns (assignment, changed):
    an identical answer writes nothing."""
    require_annotate(user, campaign)
    _require_open(campaign)
    if not campaign.allow_revisions:
        raise CampaignForbidden("This campaign does not let annotators revise their judgments.")
    with transaction.atomic():
        assignment = (
            Assignment.objects.select_for_update(of=("self",))
            .select_related("item__campaign")
            .filter(pk=assignment_id, annotator=user, item__campaign=campaign)
            .first()
        )
        if assignment is None:
            raise NotAssigned("You have no judgment on this item to revise.")
        if assignment.status != Assignment.Status.SUBMITTED:
            raise AssignmentGone(
                f"Only a submitted judgment can be revised; you {assignment.status} this item."
            )
        fields, edited = check_submission(
            validate_spec(campaign.rubric.spec), campaign.k, payload, assignment.display_order
        )
        judgment = Judgment.objects.select_for_update().get(pk=assignment.judgment_id)
        if answer_of(judgment) == fields and assignment.edited_answer == edited:
            return assignment, False
        previous = judgment.revisions.order_by("-version").first()
        JudgmentRevision.objects.create(
            judgment=judgment,
            version=previous.version + 1 if previous else 1,
            ranking=judgment.ranking,
            answer={name: getattr(judgment, name) for name in ANSWER_FIELDS},
            edited_answer=assignment.edited_answer,
            made_at=previous.replaced_at if previous else judgment.created_at,
        )
        for name, value in fields.items():
            setattr(judgment, name, value)
        judgment.rubric_version = campaign.rubric.label
        judgment.save()
        quality.ungrade_check(assignment)
        quality.grade_check(assignment, judgment.ranking)
        assignment.edited_answer = edited
        assignment.save(update_fields=["edited_answer", "check_passed"])
    return assignment, True


def my_judgments(campaign, user):
    """The annotator's submitted assignments in this campaign, newest first, with their judgments."""
    return (
        Assignment.objects.filter(item__campaign=campaign, annotator=user, status=Assignment.Status.SUBMITTED)
        .select_related("judgment", "item__comparison__prompt")
        .prefetch_related("judgment__revisions")
        .order_by("-submitted_at")
    )


def _count(rows):
    """A scalar subquery: how many ``rows`` there are (one row, no GROUP BY)."""
    return Subquery(rows.order_by().annotate(n=Func(F("pk"), function="COUNT")).values("n")[:1])


def progress(campaign, user):
    """What the annotator and the campaign have done (of a routed campaign, the items routed to people;
    routed_to_people() is every item of a campaign that is not routed). One query."""
    submitted = Assignment.objects.filter(item__campaign=campaign, status=Assignment.Status.SUBMITTED)
    items, mine, judged = (
        Campaign.objects.filter(pk=campaign.pk)
        .order_by()
        .values_list(
            _count(campaign.items.filter(routed_to_people(), kind=CampaignItem.Kind.REGULAR)),
            _count(submitted.filter(annotator=user)),
            _count(submitted.filter(item__kind=CampaignItem.Kind.REGULAR)),
        )
        .get()
    )
    return {"mine": mine, "items": items, "judged": judged, "wanted": items * campaign.overlap}
