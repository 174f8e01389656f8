"""Who may join (sign-up policy, invitations) and what people changed (the audit log)."""

import secrets

from django.conf import settings
from django.db import models
from django.db.models import Q


class SignupPolicy(models.Model):
    """One row, edited by admins in the admin site: may strangers create accounts here?"""

    class Mode(models.TextChoices):
        CLOSED = "closed", "Closed: admins create accounts"
        INVITE = "invite", "Invitation only: a link from an admin"
        OPEN = "open", "Open: anyone may sign up (as an annotator)"

    mode = models.CharField(max_length=8, choices=Mode.choices, default=Mode.CLOSED)
    invitation_days = models.PositiveIntegerField(
        default=7, help_text="How long a new invitation link stays valid."
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = verbose_name_plural = "sign-up policy"
        constraints = [models.CheckConstraint(condition=Q(pk=1), name="signup_policy_single_row")]

    def __str__(self):
        return self.get_mode_display()

    @classmethod
    def current(cls):
        return cls.objects.get_or_create(pk=1, defaults={"mode": settings.SIGNUP_MODE})[0]


def _invitation_token():
    return secrets.token_urlsafe(24)


class Invitation(models.Model):
    """A one-use sign-up link with an expiry, and the role the new account gets."""

    class Role(models.TextChoices):
        ANNOTATOR = "annotator", "Annotator"
        RESEARCHER = "researcher", "Researcher"

    token = models.CharField(max_length=64, unique=True, default=_invitation_token, editable=False)
    email = models.EmailField(
        blank=True, help_text="Optional: who it is for (a note; the link works for whoever has it)."
    )
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.ANNOTATOR)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    used_by = models.OneToOneField(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="invitation"
    )
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"invitation for {self.email or 'anyone'} ({self.role})"


class AuditEntry(models.Model):
    """One change to an audited table (model endpoints, arenas, campaigns, rubrics, export jobs, sign-up
    policy, invitations): who, from where, what, when. Written by accounts.audit, never edited."""

    class Action(models.TextChoices):
        CREATE = "create"
        UPDATE = "update"
        DELETE = "delete"

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_name = models.CharField(
        max_length=150, blank=True, help_text="Kept if the account is deleted; empty = the system."
    )
    via = models.CharField(max_length=8, help_text="api, admin, page, or system (a worker or a command).")
    ip = models.GenericIPAddressField(null=True, blank=True)
    action = models.CharField(max_length=8, choices=Action.choices)
    target_type = models.CharField(max_length=100, db_index=True, help_text="app_label.model")
    target_id = models.CharField(max_length=64)
    target_repr = models.CharField(max_length=200)
    changes = models.JSONField(
        default=dict, blank=True, help_text="Field → [before, after]; all fields on create."
    )

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["target_type", "target_id"])]
        verbose_name_plural = "audit entries"

    def __str__(self):
        return f"{self.actor_name or 'system'} {self.action} {self.target_type} {self.target_repr}"
