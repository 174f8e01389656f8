import uuid

from django.conf import settings
from django.db import models

from annotation.models import Comparison, DisplayMode
from inference.models import ModelEndpoint


class Arena(models.Model):
    """A public battle ground: which models fight, and how they are matched."""

    class Matchmaking(models.TextChoices):
        UNIFORM = "uniform", "Uniform: every enabled pair equally likely"
        WEIGHTED = "weighted", "Weighted: by each model's weight (0 = never)"
        ADAPTIVE = "adaptive", "Adaptive: close, uncertain, under-sampled pairs first; new models boosted"

    name = models.CharField(max_length=200)
    slug = models.SlugField(unique=True)
    description = models.TextField(blank=True)
    endpoints = models.ManyToManyField(
        ModelEndpoint, through="ArenaEntry", related_name="arenas", verbose_name="models"
    )
    matchmaking = models.CharField(max_length=16, choices=Matchmaking.choices, default=Matchmaking.UNIFORM)
    k = models.PositiveSmallIntegerField(
        default=2,
        help_text="Models per battle (2-6). At 3 or more the voter ranks the answers, ties allowed (K-Sort Arena style).",
    )
    max_turns = models.PositiveSmallIntegerField(
        default=5, help_text="User turns per battle: 1 = single-turn; more lets the voter send follow-ups."
    )
    per_turn_vote = models.BooleanField(
        default=False,
        help_text="Before each follow-up, ask which answers were better on that turn (kept, not rated).",
    )
    allow_guests = models.BooleanField(
        default=False,
        help_text="Voting without an account: a session-bound guest, throttled per session and IP.",
    )
    sample_prompts = models.JSONField(
        default=list, blank=True, help_text="Prompts a voter can draw instead of typing."
    )
    is_open = models.BooleanField(default=True)
    # auto by default: chat answers are mostly Markdown, and auto shows plain whenever it is unsure.
    display_mode = models.CharField(
        max_length=8,
        choices=DisplayMode.choices,
        default=DisplayMode.AUTO,
        help_text="How answers are shown; every answer also has a show-source toggle.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at"]
        constraints = [
            models.CheckConstraint(name="arena_k_between_2_and_6", condition=models.Q(k__gte=2, k__lte=6)),
            models.CheckConstraint(name="arena_max_turns_positive", condition=models.Q(max_turns__gte=1)),
            models.CheckConstraint(
                name="arena_display_mode_known", condition=models.Q(display_mode__in=DisplayMode.values)
            ),
        ]

    def __str__(self):
        return self.name


class ArenaEntry(models.Model):
    """A model's place in an arena, with its sampling weight for the weighted policy."""

    arena = models.ForeignKey(Arena, on_delete=models.CASCADE, related_name="entries")
    endpoint = models.ForeignKey(ModelEndpoint, on_delete=models.CASCADE, related_name="arena_entries")
    weight = models.FloatField(
        default=1.0, help_text="Relative chance of being drawn (weighted policy); 0 = never."
    )
    max_context_chars = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Longest conversation (characters, all turns) this model is sent; empty = ARENA_MAX_CONVERSATION_CHARS.",
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["arena", "endpoint"], name="arena_entry_unique"),
            models.CheckConstraint(name="arena_entry_weight_non_negative", condition=models.Q(weight__gte=0)),
        ]
        verbose_name_plural = "arena entries"

    def __str__(self):
        return f"{self.endpoint} in {self.arena} (weight {self.weight:g})"

    def clean(self):
        from .board import check_private_cap

        if self.arena_id and self.endpoint_id:
            check_private_cap(self.arena, self.endpoint, exclude_entry=self if self.pk else None)


class Battle(models.Model):
    """One voter's anonymous battle: a comparison shown to them in an arena.

    It is addressed by a random public id, so URLs say nothing about the models."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    arena = models.ForeignKey(Arena, on_delete=models.PROTECT, related_name="battles")
    comparison = models.OneToOneField(Comparison, on_delete=models.PROTECT, related_name="battle")
    voter = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="battles")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"Battle {self.public_id}"


class BattleTurn(models.Model):
    """One user turn of a battle and the K answers to it, in the battle's screen order.

    Turn 0 is the opening prompt (its answers are the battle's comparison); each follow-up is
    answered by every contestant with its own history (its own earlier answers), so each answer
    of a later turn has a prompt of its own. The battle's one vote covers all its turns."""

    battle = models.ForeignKey(Battle, on_delete=models.CASCADE, related_name="turns")
    index = models.PositiveSmallIntegerField()
    message = models.TextField(help_text="What the voter sent on this turn.")
    ranking = models.JSONField(
        null=True, blank=True, help_text="Optional per-turn vote (tie groups of positions); kept, not rated."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["battle", "index"]
        constraints = [models.UniqueConstraint(fields=["battle", "index"], name="battle_turn_unique")]

    def __str__(self):
        return f"Turn {self.index} of {self.battle}"


class BattleAnswer(models.Model):
    """The answer shown at one position on one turn."""

    turn = models.ForeignKey(BattleTurn, on_delete=models.CASCADE, related_name="answers")
    position = models.PositiveSmallIntegerField()
    response = models.ForeignKey(
        "inference.Response", on_delete=models.PROTECT, related_name="battle_answers"
    )

    class Meta:
        ordering = ["turn", "position"]
        constraints = [models.UniqueConstraint(fields=["turn", "position"], name="battle_answer_unique")]

    def __str__(self):
        return f"Answer {self.position} of {self.turn}"


class GuestVoter(models.Model):
    """A voter without an account: a user made for one browser session (unusable password,
    in the "guest" group), with the address it came from for per-IP limits."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="guest")
    session_key = models.CharField(max_length=64, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    def __str__(self):
        return f"Guest {self.user_id} from {self.ip or 'unknown'}"


class ArenaChange(models.Model):
    """One change to what decides who fights: an arena's policy or K, or a model's weight, entry or
    outage. Written on every save, shown on the public sampling page (nothing is changed silently)."""

    arena = models.ForeignKey(Arena, on_delete=models.CASCADE, related_name="changes")
    what = models.CharField(max_length=200)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    changed_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-changed_at", "-id"]

    def __str__(self):
        return f"{self.arena}: {self.what}"


class Retirement(models.Model):
    """A model taken off the live board: its rows frozen as they stood, with the date and the reason.
    The votes stay, and the row is listed on the board's "retired" tab for good."""

    endpoint = models.OneToOneField(ModelEndpoint, on_delete=models.PROTECT, related_name="retirement")
    reason = models.TextField()
    retired_at = models.DateTimeField(auto_now_add=True)
    retired_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    frozen_rows = models.JSONField(default=dict, help_text="{method: the model's board row when it retired}.")

    def __str__(self):
        return f"{self.endpoint} (retired)"


class VoterExclusion(models.Model):
    """An admin left a voter's votes out of the board (the votes are kept). Lifting it is recorded too."""

    voter = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="board_exclusions"
    )
    reason = models.TextField()
    excluded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    excluded_at = models.DateTimeField(auto_now_add=True)
    lifted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-excluded_at"]

    def __str__(self):
        return f"{self.voter} (excluded from the board)"
