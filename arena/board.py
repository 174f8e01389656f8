"""Writes that keep the board honest ("The Leaderboard Illusion", arXiv 2504.20879): every change to
matchmaking is logged for the public sampling page; retiring a model freezes its rows instead of
dropping them; private variants are capped per provider; an admin may leave a voter's votes out of
the board, keeping the votes and recording why."""

from django.conf import settings
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from annotation import roles
from ranking.leaderboard import METHODS
from ranking.selectors import latest_snapshot
from ranking.services import judgments_changed

from .models import ArenaChange, ArenaEntry, Retirement, VoterExclusion

BOARD_METHODS = METHODS  # ranking.leaderboard.METHODS: every method has a board


def record_change(arena, what, before=None, after=None):
    return ArenaChange.objects.create(arena=arena, what=what, before=before, after=after)


def check_private_cap(arena, endpoint, exclude_entry=None):
    """ValidationError with a sentence when the provider already tests as many private variants in
    this arena as ARENA_MAX_PRIVATE_VARIANTS allows (0 = no cap)."""
    cap = settings.ARENA_MAX_PRIVATE_VARIANTS
    if not cap or not endpoint.private:
        return
    testing = ArenaEntry.objects.filter(
        arena=arena, endpoint__private=True, endpoint__provider=endpoint.provider, endpoint__enabled=True
    ).exclude(endpoint=endpoint)
    if exclude_entry is not None:
        testing = testing.exclude(pk=exclude_entry.pk)
    if testing.count() >= cap:
        who = endpoint.provider or "A provider without a name"
        raise ValidationError(
            f"{who} already tests {testing.count()} private variants in this arena; the cap is {cap}. "
            "Release or retire one first."
        )


def enter_model(arena, endpoint, weight=1.0):
    """Put a model into an arena (the private-variant cap applies); the change is logged by the signal."""
    check_private_cap(arena, endpoint)
    return ArenaEntry.objects.create(arena=arena, endpoint=endpoint, weight=weight)


@transaction.atomic
def retire_model(endpoint, reason, by=None):
    """Take a model off the live board: its rows on every board method are frozen as they stand,
    with the date and the reason; it is never drawn again. Its votes are kept and still count."""
    reason = (reason or "").strip()
    if not reason:
        raise ValueError("Say why the model is retired: the reason is shown on the board.")
    if Retirement.objects.filter(endpoint=endpoint).exists():
        raise ValueError(f"{endpoint} is already retired.")
    frozen = {}
    for method in BOARD_METHODS:
        snapshot = latest_snapshot(method)
        for place, row in enumerate(snapshot.rows if snapshot else [], start=1):
            if row["model"] == endpoint.name:
                frozen[method] = {
                    **row,
                    "place": place,
                    "judgment_count": snapshot.judgment_count,
                    "computed_at": snapshot.computed_at.isoformat(),
                }
    retirement = Retirement.objects.create(
        endpoint=endpoint, reason=reason, retired_by=by, frozen_rows=frozen
    )
    if endpoint.enabled:
        endpoint.enabled = False
        endpoint.save(update_fields=["enabled"])  # the signal logs the change in each of its arenas
    return retirement


@transaction.atomic
def exclude_voter(voter, reason, by=None):
    """Leave the voter's votes out of every board (they are kept); the next refit reads again."""
    reason = (reason or "").strip()
    if not reason:
        raise ValueError("Say why the voter is excluded: the reason is kept with the exclusion.")
    if VoterExclusion.objects.filter(voter=voter, lifted_at__isnull=True).exists():
        raise ValueError(f"{voter} is already excluded from the board.")
    exclusion = VoterExclusion.objects.create(voter=voter, reason=reason, excluded_by=by)
    voter.groups.add(Group.objects.get_or_create(name=roles.BOARD_EXCLUDED)[0])
    judgments_changed()
    return exclusion


@transaction.atomic
def lift_exclusion(voter):
    lifted = VoterExclusion.objects.filter(voter=voter, lifted_at__isnull=True).update(
        lifted_at=timezone.now()
    )
    if not lifted:
        raise ValueError(f"{voter} is not excluded from the board.")
    voter.groups.remove(*Group.objects.filter(name=roles.BOARD_EXCLUDED))
    judgments_changed()
