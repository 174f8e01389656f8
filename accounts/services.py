"""Accounts: sign-up under the admins' policy, invitation links, and each user's own API token."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from django.contrib.auth.models import Group
from django.db import transaction
from django.utils import timezone
from rest_framework.authtoken.models import Token

from .models import Invitation, SignupPolicy

if TYPE_CHECKING:
    from django.contrib.auth.forms import UserCreationForm
    from django.contrib.auth.models import User


class SignupClosed(PermissionError):
    """Sign-up is not open to this visitor; the message says why."""


def create_invitation(
    created_by: User, *, role: str = Invitation.Role.ANNOTATOR, email: str = "", days: int | None = None
) -> Invitation:
    days = SignupPolicy.current().invitation_days if days is None else days
    return Invitation.objects.create(
        created_by=created_by, role=role, email=email, expires_at=timezone.now() + timedelta(days=days)
    )


def usable_invitation(token: str | None, *, lock: bool = False) -> Invitation:
    """The invitation behind a link if it can still be used; SignupClosed with the reason otherwise."""
    invitations = Invitation.objects.select_for_update() if lock else Invitation.objects
    invitation = invitations.filter(token=token).first() if token else None
    if invitation is None:
        raise SignupClosed("This invitation link is not valid; ask an admin for a new one.")
    if invitation.used_by_id is not None or invitation.used_at is not None:
        raise SignupClosed("This invitation link has already been used.")
    if invitation.expires_at <= timezone.now():
        raise SignupClosed("This invitation link has expired; ask an admin for a new one.")
    return invitation


def check_signup_allowed(invitation_token: str | None = None) -> None:
    """None if a visitor (with this invitation, if any) may sign up now; SignupClosed otherwise."""
    mode = SignupPolicy.current().mode
    if invitation_token:
        if mode == SignupPolicy.Mode.CLOSED:
            raise SignupClosed("Sign-up is closed; an admin creates accounts.")
        usable_invitation(invitation_token)
    elif mode != SignupPolicy.Mode.OPEN:
        raise SignupClosed(
            "Sign-up is closed; an admin creates accounts."
            if mode == SignupPolicy.Mode.CLOSED
            else "Sign-up is by invitation: open the link an admin sent you."
        )


@transaction.atomic
def sign_up(form: UserCreationForm, invitation_token: str | None = None) -> User:
    """Create the account from a valid UserCreationForm: an annotator, or the invitation's role.
    The invitation is locked and spent in the same transaction, so one link makes one account."""
    check_signup_allowed(invitation_token)
    role: str = Invitation.Role.ANNOTATOR
    invitation = usable_invitation(invitation_token, lock=True) if invitation_token else None
    if invitation is not None:
        role = invitation.role
    user = form.save()
    user.groups.add(Group.objects.get_or_create(name=role)[0])
    if invitation is not None:
        invitation.used_by, invitation.used_at = user, timezone.now()
        invitation.save(update_fields=["used_by", "used_at"])
    return user


def issue_api_token(user: User) -> str:
    """A new API token for the user, replacing (and so revoking) any earlier one; returns its key."""
    with transaction.atomic():
        Token.objects.filter(user=user).delete()
        return Token.objects.create(user=user).key


def revoke_api_token(user: User) -> bool:
    """Revoke the user's API token; True if there was one."""
    return Token.objects.filter(user=user).delete()[0] > 0


def api_token_of(user: User) -> Token | None:
    return Token.objects.filter(user=user).first()
