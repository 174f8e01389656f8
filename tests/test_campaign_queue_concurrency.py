"""Campaign queues under contention, on PostgreSQL with one connection per thread: overlap is never exceeded,
nobody judges an item twice, a row another request holds locked never makes `next` say "nothing left", and
one annotator's submit never waits for another's on a different item."""

import random
import threading
import time
from collections import Counter
from contextlib import contextmanager

import pytest
from django.db import OperationalError, connection, transaction
from django.db.models import Count, Q
from django.utils import timezone

from annotation import items, queues
from annotation.models import Assignment, CampaignItem, Judgment
from tests.test_campaign_fixtures import jsonl, make_campaign

pytestmark = pytest.mark.django_db(transaction=True)


def crowd(people, make_user, n):
    users = [make_user(f"w{i}") for i in range(n)]
    for u in users:
        u.groups.add(*people["annotator"].groups.all())
    return users


def test_twenty_annotators_one_queue(people, make_user):
    campaign = make_campaign(people["researcher"], slug="conc", overlap=2, n_items=6)
    users = crowd(people, make_user, 20)
    barrier = threading.Barrier(len(users))
    errors = []

    def work(user):
        try:
            barrier.wait()
            served, busy = 0, 0
            while served < 4:
                try:
                    a = queues.next_assignment(campaign, user)
                except queues.QueueEmpty:
                    return
                except queues.QueueBusy:  # "ask again": on a loaded machine a lock can outlast the wait
                    busy += 1
                    assert busy < 50, "busy fifty times in a row"
                    continue
                busy = 0
                served += 1
                queues.submit(campaign, user, a.pk, {"ranking": [[0], [1]]})
        except Exception as exc:  # noqa: BLE001 - any failure in a thread is reported by the test below
            errors.append(repr(exc))
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(u,)) for u in users]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    per_item = Counter(Assignment.objects.filter(item__campaign=campaign).values_list("item_id", flat=True))
    assert per_item and max(per_item.values()) <= 2  # never three
    assert all(n == 2 for n in per_item.values()) and len(per_item) == 6  # and the queue was filled
    pairs = Counter(Judgment.objects.values_list("comparison_id", "annotator_id"))
    assert max(pairs.values()) == 1  # never one they already judged


# --- another request holds a row lock ---------------------------------------------------------------------


class LockHolder(threading.Thread):
    """Another request's open transaction on its own connection: ``hold()`` takes row locks, which are kept
    until the test lets go, or (``release_on_waiter``) as soon as some session waits for one of them."""

    def __init__(self, hold, *, release_on_waiter=False):
        super().__init__(daemon=True)
        self.hold, self.release_on_waiter = hold, release_on_waiter
        self.held, self.stop = threading.Event(), threading.Event()
        self.saw_waiter, self.error = False, None

    def run(self):
        try:
            with transaction.atomic():
                self.hold()
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_backend_pid()")
                    pid = cursor.fetchone()[0]
                self.held.set()
                while not self.stop.wait(0.01):
                    if self.release_on_waiter and self._waited_on(pid):
                        self.saw_waiter = True
                        break
        except Exception as exc:  # noqa: BLE001 - reported by __exit__
            self.error = exc
        finally:
            self.held.set()
            connection.close()

    @staticmethod
    def _waited_on(pid):
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE %s = ANY(pg_blocking_pids(pid))", [pid]
            )
            return cursor.fetchone()[0] > 0

    def __enter__(self):
        self.start()
        assert self.held.wait(30), "the lock holder did not start"
        assert self.error is None, self.error
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.join(30)
        assert self.error is None, self.error


@contextmanager
def never_waiting(what):
    """On this connection a wait for another transaction's row lock fails (LockNotAvailable) instead of
    blocking, and fails the test."""
    with connection.cursor() as cursor:
        cursor.execute("SET lock_timeout = '2s'")
    try:
        yield
    except OperationalError as exc:
        pytest.fail(f"{what} waited for a lock the other transaction holds: {exc}")
    finally:
        with connection.cursor() as cursor:
            cursor.execute("RESET lock_timeout")


def lock_item(item):
    return lambda: CampaignItem.objects.select_for_update().get(pk=item.pk)


@pytest.fixture
def last_item(people, make_user):
    """The issue's reproduction: K=2, overlap 2, one item, annotator 1 holds it, annotator 2 still needs it."""
    campaign = make_campaign(people["researcher"], slug="last", overlap=2, n_items=1)
    first, second = crowd(people, make_user, 2)
    held = queues.next_assignment(campaign, first)
    return campaign, held.item, second


def ask_next(campaign, user, client, via):
    """`next` through the API endpoint or the service: (status, assignment id or None, response)."""
    if via == "api":
        client.force_login(user)
        response = client.post(f"/api/campaigns/{campaign.slug}/next/")
        return (
            response.status_code,
            (response.json()["assignment"] if response.status_code == 200 else None),
            response,
        )
    try:
        return 200, queues.next_assignment(campaign, user).pk, None
    except queues.QueueEmpty:
        return 204, None, None


@pytest.mark.parametrize("via", ["api", "service"])
def test_a_locked_item_is_waited_for_not_reported_done(last_item, client, via):
    campaign, item, second = last_item
    with LockHolder(lock_item(item), release_on_waiter=True) as holder:
        status, assignment_id, _ = ask_next(campaign, second, client, via)
    assert status == 200, "a row lock made `next` say there is nothing left"
    assert Assignment.objects.get(pk=assignment_id).item_id == item.pk
    assert holder.saw_waiter  # it waited for the lock and took the item once it was let go


def test_a_lock_held_past_the_wait_answers_busy_and_retryable(last_item, client, settings):
    settings.CAMPAIGN_QUEUE_LOCK_WAIT_SECONDS = 0.3
    campaign, item, second = last_item
    client.force_login(second)
    with LockHolder(lock_item(item)):
        response = client.post(f"/api/campaigns/{campaign.slug}/next/")
        assert response.status_code == 503, response.content
        assert response["Retry-After"] == "1"
        assert "try again in a moment" in response.json()["detail"]
        page = client.get(f"/campaigns/{campaign.slug}/item/", HTTP_HX_REQUEST="true")
        assert page.status_code == 200 and "try again in a moment" in page.content.decode()
        assert "done everything" not in page.content.decode()
        assert 'hx-trigger="load delay:1s"' in page.content.decode()  # the page asks again by itself
        with pytest.raises(queues.QueueBusy):
            queues.next_assignment(campaign, second)
    assert not Assignment.objects.filter(annotator=second).exists()  # nothing half-written
    response = client.post(f"/api/campaigns/{campaign.slug}/next/")  # the lock is gone: the item is theirs
    assert response.status_code == 200 and Assignment.objects.get(annotator=second).item_id == item.pk


def test_a_free_item_past_a_batch_of_locked_ones_is_served_at_once(people, make_user, settings):
    settings.CAMPAIGN_QUEUE_LOCK_WAIT_SECONDS = 0.3  # a wait would end in QueueBusy
    campaign = make_campaign(people["researcher"], slug="many", overlap=1, n_items=queues.CANDIDATE_BATCH + 1)
    (annotator,) = crowd(people, make_user, 1)
    first_batch = list(
        CampaignItem.objects.filter(campaign=campaign).order_by("id")[: queues.CANDIDATE_BATCH]
    )
    with LockHolder(
        lambda: list(CampaignItem.objects.select_for_update().filter(pk__in=[i.pk for i in first_batch]))
    ):
        assignment = queues.next_assignment(campaign, annotator)
    assert assignment.item_id not in {i.pk for i in first_batch}


# --- one annotator's write does not wait for another's on a different item -------------------------------


@pytest.mark.parametrize("operation", ["submit", "skip", "undo", "next"])
def test_a_submit_on_one_item_does_not_block_others_in_the_campaign(people, make_user, operation):
    campaign = make_campaign(people["researcher"], slug="par", overlap=1, n_items=4, undo_seconds=60)
    holder_user, other, newcomer = crowd(people, make_user, 3)
    x = queues.next_assignment(campaign, holder_user)
    y = queues.next_assignment(campaign, other)
    if operation == "undo":
        queues.submit(campaign, other, y.pk, {"ranking": [[0], [1]]})

    # the holder's submit stays open (its locks held) while the other annotator works on another item
    def hold():
        return queues.submit(campaign, holder_user, x.pk, {"ranking": [[1], [0]]})

    with LockHolder(hold), never_waiting(f"{operation} on another item"):
        if operation == "submit":
            queues.submit(campaign, other, y.pk, {"ranking": [[0], [1]]})
        elif operation == "skip":
            queues.skip(campaign, other, y.pk, "I don't know the topic")
        elif operation == "undo":
            queues.undo_last(campaign, other)
        else:
            assert queues.next_assignment(campaign, newcomer).item_id not in (x.item_id, y.item_id)
    assert Judgment.objects.filter(annotator=holder_user).count() == 1  # the holder's submit went through too


class Draw:
    """An rng for next_assignment whose draws always (0.0) or never (0.99) pick a repeat or a check."""

    def __init__(self, value):
        self.value = value

    def random(self):
        return self.value

    def choice(self, options):
        return options[0]


def test_a_repeat_being_served_does_not_lock_the_item_for_others(people, make_user, settings):
    settings.CAMPAIGN_QUEUE_LOCK_WAIT_SECONDS = 0.3  # a wait for the item would end in QueueBusy
    campaign = make_campaign(
        people["researcher"], slug="rlock", overlap=2, n_items=1, repeat_rate=0.5, repeat_after=0
    )
    first, second = crowd(people, make_user, 2)
    judged = queues.next_assignment(campaign, first, rng=Draw(0.99))
    queues.submit(campaign, first, judged.pk, {"ranking": [[0], [1]]})
    repeat = queues.next_assignment(campaign, first, rng=Draw(0.0))
    assert repeat.is_repeat
    type(repeat).objects.filter(pk=repeat.pk).update(expires_at=timezone.now())  # served again: the lock path
    with LockHolder(lambda: queues.next_assignment(campaign, first, rng=Draw(0.0))):
        assignment = queues.next_assignment(campaign, second, rng=Draw(0.99))
    assert assignment.item_id == judged.item_id  # the item still needed its second annotator


def test_a_check_being_submitted_is_still_served_to_others(people, make_user):
    campaign = make_campaign(people["researcher"], slug="glock", overlap=1, n_items=1, gold_rate=0.5)
    gold = [{"prompt": "G", "responses": ["good", "bad"], "kind": "gold", "expected_ranking": [[0], [1]]}]
    items.import_items(campaign, jsonl(gold), "jsonl")
    first, second = crowd(people, make_user, 2)
    check = queues.next_assignment(campaign, first, rng=Draw(0.0))
    assert check.item.kind == "gold"
    with (
        LockHolder(lambda: queues.submit(campaign, first, check.pk, {"ranking": [[0], [1]]})),
        never_waiting("next"),
    ):
        served = queues.next_assignment(campaign, second, rng=Draw(0.0))
    assert served.item_id == check.item_id  # the check, not a regular item instead of it


# --- a crowd runs a queue to completion -------------------------------------------------------------------


def open_to(campaign, user, now):
    """The queue's rules, read independently: regular items this annotator neither submitted nor skipped
    whose submitted and unexpired leased assignments are still fewer than the overlap."""
    done = Assignment.objects.filter(
        annotator=user,
        item__campaign=campaign,
        status__in=[Assignment.Status.SUBMITTED, Assignment.Status.SKIPPED],
    )
    active = Q(assignments__status=Assignment.Status.SUBMITTED) | Q(
        assignments__status=Assignment.Status.LEASED, assignments__expires_at__gt=now
    )
    return set(
        CampaignItem.objects.filter(campaign=campaign, kind=CampaignItem.Kind.REGULAR)
        .exclude(pk__in=done.values("item_id"))
        .annotate(active=Count("assignments", filter=active))
        .filter(active__lt=campaign.overlap)
        .values_list("pk", flat=True)
    )


def test_a_crowd_runs_the_queue_to_completion_with_no_false_nothing_left(people, make_user):
    """8 annotators, each on its own connection, next/submit/skip/undo until every item has its overlap.

    Every "nothing left" is checked against the queue's rules right after it: an item still open to that
    annotator then was open when `next` ran too, unless someone skipped it since `next` started (a skip is
    the only way an item regains room here: leases outlive the test, and undo keeps the item held)."""
    n_workers, n_items, overlap = 8, 10, 3
    campaign = make_campaign(
        people["researcher"], slug="crowd", overlap=overlap, n_items=n_items, undo_seconds=60
    )
    users = crowd(people, make_user, n_workers)
    guard = threading.Lock()
    skips = []  # (item id, time.monotonic() when the skip had committed)
    skippers = Counter()  # at most 2 skips per item, so 8 annotators can always fill an overlap of 3
    false_empty, errors, answers = [], [], Counter()
    barrier = threading.Barrier(n_workers)

    def complete():
        submitted = Counter(
            Assignment.objects.filter(
                item__campaign=campaign, status=Assignment.Status.SUBMITTED
            ).values_list("item_id", flat=True)
        )
        return len(submitted) == n_items and set(submitted.values()) == {overlap}

    def work(user, seed):
        rng = random.Random(seed)
        deadline = time.monotonic() + 90
        try:
            barrier.wait()
            while time.monotonic() < deadline:
                started = time.monotonic()
                try:
                    assignment = queues.next_assignment(campaign, user)
                except queues.QueueEmpty:
                    still_open = open_to(campaign, user, timezone.now())
                    with guard:
                        answers["nothing left"] += 1
                        regained = {item for item, at in skips if at >= started}
                    if still_open - regained:
                        false_empty.append((user.username, sorted(still_open - regained)))
                    if complete():
                        return
                    time.sleep(0.02)  # "for now": a skip may still give them work
                    continue
                except queues.QueueBusy:
                    answers["busy"] += 1
                    continue
                with guard:
                    may_skip = skippers[assignment.item_id] < 2 and rng.random() < 0.15
                    skippers[assignment.item_id] += may_skip
                if may_skip:
                    queues.skip(campaign, user, assignment.pk, "I don't know the topic")
                    with guard:
                        skips.append((assignment.item_id, time.monotonic()))
                    answers["skip"] += 1
                    continue
                queues.submit(
                    campaign, user, assignment.pk, {"ranking": rng.choice([[[0], [1]], [[1], [0]], [[0, 1]]])}
                )
                answers["submit"] += 1
                if rng.random() < 0.2:  # take it back: the item is leased to them again and comes next
                    assert queues.undo_last(campaign, user).pk == assignment.pk
                    answers["undo"] += 1
            errors.append(f"{user.username} ran out of time")
        except Exception as exc:  # noqa: BLE001 - any failure in a thread is reported by the test below
            errors.append(repr(exc))
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(u, i)) for i, u in enumerate(users)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    assert not false_empty, f"`next` said nothing was left while items still needed them: {false_empty}"
    assert answers["submit"] >= n_items * overlap and answers["nothing left"] >= n_workers, answers
    statuses = Counter(Assignment.objects.filter(item__campaign=campaign).values_list("item_id", "status"))
    for item in CampaignItem.objects.filter(campaign=campaign):
        assert statuses[(item.pk, "submitted")] == overlap  # exactly the overlap
        assert statuses[(item.pk, "leased")] == 0  # nobody stopped with an item in hand
        assert (
            Judgment.objects.filter(comparison=item.comparison_id).count() == overlap
        )  # undone ones are gone
    pairs = Counter(Judgment.objects.values_list("comparison_id", "annotator_id"))
    assert max(pairs.values()) == 1  # nobody judged an item twice
    skipped = set(
        Assignment.objects.filter(item__campaign=campaign, status="skipped").values_list(
            "item__comparison", "annotator"
        )
    )
    assert not skipped & set(pairs)  # nor judged one they skipped
