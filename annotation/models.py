"""The record of truth: what was shown (Comparison) and what someone said about it (Judgment)."""

from django.conf import settings
from django.db import models
from django.db.models import Q

from inference.models import ModelEndpoint, Prompt, Response


class Comparison(models.Model):
    """K ≥ 2 responses to one prompt, in the order they were shown (position 0 is "A").

    A later turn of a multi-turn conversation ``continues`` the comparison before it: its prompt
    is still the opening, and each position's response answers that position's own history
    (the earlier answers at the same position and the shared follow-ups)."""

    prompt = models.ForeignKey(Prompt, on_delete=models.PROTECT, related_name="comparisons")
    k = models.PositiveSmallIntegerField(help_text="How many responses were shown.")
    continues = models.OneToOneField(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="continuation",
        help_text="The previous turn of the same conversation (multi-turn battles).",
    )
    origin = models.CharField(
        max_length=120,
        blank=True,
        default="",
        db_index=True,
        help_text='Where the comparison was made, set by the app that made it ("arena:<slug>" for an '
        "arena battle; empty otherwise). Exports filter on it without reading the other app.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.CheckConstraint(name="comparison_k_at_least_2", condition=Q(k__gte=2))]

    def __str__(self):
        return f"Comparison {self.pk} (K={self.k})"

    @staticmethod
    def arena_origin(slug):
        """The origin of a comparison made by the arena with this slug."""
        return f"arena:{slug}"


class ComparisonSlot(models.Model):
    """Which response stood at which position of a comparison."""

    comparison = models.ForeignKey(Comparison, on_delete=models.CASCADE, related_name="slots")
    position = models.PositiveSmallIntegerField()
    response = models.ForeignKey(Response, on_delete=models.PROTECT, related_name="slots")

    class Meta:
        ordering = ["comparison", "position"]
        constraints = [
            models.UniqueConstraint(fields=["comparison", "position"], name="slot_position_unique"),
            models.UniqueConstraint(fields=["comparison", "response"], name="slot_response_unique"),
        ]

    def __str__(self):
        return f"{self.comparison_id}:{self.position_label}"

    @property
    def position_label(self):
        return chr(ord("A") + self.position)


class Judgment(models.Model):
    """One verdict on one comparison, by a person or an AI judge.

    ``ranking`` is a list of tie groups of positions, best first: [[0], [1]] is
    "A better", [[0, 1]] a tie. Raw judgments are never overwritten by aggregates."""

    class Source(models.TextChoices):
        HUMAN = "human"
        AI = "ai"

    comparison = models.ForeignKey(Comparison, on_delete=models.PROTECT, related_name="judgments")
    ranking = models.JSONField(help_text="Tie groups of shown positions, best first.")
    none_acceptable = models.BooleanField(default=False, help_text="Every response was bad.")
    strength = models.SmallIntegerField(
        null=True, blank=True, help_text="Preference strength, e.g. 1 slight, 2 clear."
    )
    aspects = models.JSONField(default=dict, blank=True, help_text="Per-aspect rankings or ratings.")
    confidence = models.PositiveSmallIntegerField(null=True, blank=True)
    reason_tags = models.JSONField(default=list, blank=True)
    rationale = models.TextField(blank=True)
    time_spent_ms = models.PositiveIntegerField(null=True, blank=True)

    source = models.CharField(max_length=8, choices=Source.choices)
    annotator = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="judgments"
    )
    judge = models.ForeignKey(
        ModelEndpoint, null=True, blank=True, on_delete=models.PROTECT, related_name="judgments_made"
    )
    judge_prompt_version = models.CharField(max_length=64, blank=True)
    identities_hidden = models.BooleanField(help_text="Model names were hidden when this was made.")
    rubric_version = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["comparison", "annotator"],
                condition=Q(annotator__isnull=False),
                name="one_judgment_per_annotator",
            ),
            models.UniqueConstraint(
                fields=["comparison", "judge", "judge_prompt_version"],
                condition=Q(judge__isnull=False),
                name="one_judgment_per_judge_version",
            ),
            models.CheckConstraint(
                name="judgment_source_matches_author",
                condition=(Q(source="human", annotator__isnull=False, judge__isnull=True))
                | Q(source="ai", judge__isnull=False, annotator__isnull=True),
            ),
        ]

    def __str__(self):
        return f"Judgment {self.pk} on comparison {self.comparison_id}: {self.ranking}"


# ---------------------------------------------------------------------------
# Annotation campaigns (issue 5): rubrics, campaigns, items, assignments,
# quality control and adjudication. Judgments stay the universal record above;
# these rows say which campaign asked for them and how they were shown.
# ---------------------------------------------------------------------------


class Rubric(models.Model):
    """What a campaign asks of an annotator, frozen: a change makes a new version.

    ``spec`` is validated by annotation.rubrics.validate_spec; judgments keep
    ``label`` ("family@vN") in Judgment.rubric_version."""

    family = models.SlugField(max_length=100, help_text="Name shared by every version of this rubric.")
    version = models.PositiveIntegerField(default=1)
    description = models.TextField(blank=True)
    spec = models.JSONField(help_text="Controls the annotator sees; see annotation/rubrics.py.")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["family", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["family", "version"], name="rubric_family_version_unique"),
            models.CheckConstraint(name="rubric_version_at_least_1", condition=Q(version__gte=1)),
        ]

    def __str__(self):
        return self.label

    @property
    def label(self):
        return f"{self.family}@v{self.version}"


class DisplayMode(models.TextChoices):
    """How answers are shown (annotation.rendering): campaigns default to plain, arenas to auto."""

    PLAIN = "plain", "plain: the exact text, whitespace kept, nothing formatted"
    MARKDOWN = "markdown", "markdown: formatted (code, tables, math); HTML shows as text"
    AUTO = "auto", "auto: markdown only for answers that clearly are markdown, plain otherwise"


class Campaign(models.Model):
    """A collection effort: a rubric, items, overlap, who may annotate, and a status."""

    class Status(models.TextChoices):
        OPEN = "open"
        PAUSED = "paused"
        CLOSED = "closed"

    class Layout(models.TextChoices):
        SIDE_BY_SIDE = "side_by_side", "side by side"
        STACKED = "stacked", "stacked"

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=100, unique=True)
    guidelines = models.TextField(blank=True, help_text="Markdown; any HTML in it is shown as text.")
    k = models.PositiveSmallIntegerField(default=2, help_text="Responses per item (2–8).")
    layout = models.CharField(max_length=16, choices=Layout.choices, default=Layout.SIDE_BY_SIDE)
    # plain by default: a campaign builds a dataset, and plain shows every character the export writes.
    display_mode = models.CharField(
        max_length=8,
        choices=DisplayMode.choices,
        default=DisplayMode.PLAIN,
        help_text="How prompts and answers are shown; every answer also has a show-source toggle.",
    )
    rubric = models.ForeignKey(Rubric, on_delete=models.PROTECT, related_name="campaigns")
    overlap = models.PositiveSmallIntegerField(default=2, help_text="Judgments wanted per item.")
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.OPEN, db_index=True)
    annotator_groups = models.ManyToManyField(
        "auth.Group",
        blank=True,
        related_name="campaigns",
        help_text="Who may annotate (besides the annotator role). Empty: every annotator.",
    )
    researchers = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        blank=True,
        related_name="campaigns_researched",
        help_text="Researchers who manage it.",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    lease_seconds = models.PositiveIntegerField(
        default=900, help_text="An item held this long without a submission goes back."
    )
    undo_seconds = models.PositiveIntegerField(
        default=30, help_text="How long after submitting the annotator may undo."
    )
    gold_rate = models.FloatField(
        default=0.0, help_text="Share of items served that are gold or attention checks (0–1)."
    )
    gold_min_checks = models.PositiveSmallIntegerField(
        default=3, help_text="Checks seen before accuracy can warn or pause."
    )
    gold_warn_below = models.FloatField(default=0.8)
    gold_pause_below = models.FloatField(default=0.6)
    profile_fields = models.JSONField(
        default=list,
        blank=True,
        help_text='Optional profile fields this campaign asks for, e.g. ["age_band", "country"].',
    )
    repeat_rate = models.FloatField(
        default=0.0,
        help_text="Share of items served that re-show an item the annotator already judged (0–1), "
        "to measure self-consistency; repeats never count toward overlap, agreement or rankings.",
    )
    repeat_after = models.PositiveSmallIntegerField(
        default=3,
        help_text="A repeat is served only after the annotator judged at least this many other items since.",
    )
    reoffer_skipped = models.BooleanField(
        default=False,
        help_text="Offer an item the annotator skipped to them again, once they have seen every other item.",
    )
    allow_revisions = models.BooleanField(
        default=True,
        help_text="Annotators may revise their judgments (My judgments) while the campaign is open; "
        "every earlier version is kept.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                name="campaign_display_mode_known", condition=Q(display_mode__in=DisplayMode.values)
            ),
            models.CheckConstraint(
                name="campaign_repeat_rate_0_1", condition=Q(repeat_rate__gte=0, repeat_rate__lte=1)
            ),
            models.CheckConstraint(name="campaign_k_2_to_8", condition=Q(k__gte=2, k__lte=8)),
            models.CheckConstraint(name="campaign_overlap_at_least_1", condition=Q(overlap__gte=1)),
            models.CheckConstraint(
                name="campaign_gold_rate_0_1", condition=Q(gold_rate__gte=0, gold_rate__lte=1)
            ),
            models.CheckConstraint(name="campaign_lease_positive", condition=Q(lease_seconds__gte=1)),
        ]

    def __str__(self):
        return self.name


class CampaignItem(models.Model):
    """One comparison a campaign collects judgments on; gold and attention items carry the expected answer."""

    class Kind(models.TextChoices):
        REGULAR = "regular"
        GOLD = "gold"
        ATTENTION = "attention"

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="items")
    comparison = models.ForeignKey(Comparison, on_delete=models.PROTECT, related_name="campaign_items")
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.REGULAR)
    expected_ranking = models.JSONField(
        null=True,
        blank=True,
        help_text="Gold/attention: tie groups of comparison positions; strict orders must match.",
    )
    external_id = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "comparison"], name="campaign_item_comparison_unique"
            ),
            models.CheckConstraint(
                name="campaign_item_checks_have_answer",
                condition=Q(kind="regular") | Q(expected_ranking__isnull=False),
            ),
        ]

    def __str__(self):
        return f"{self.campaign.slug} item {self.pk} ({self.kind})"


class AssignmentQuerySet(models.QuerySet):
    @staticmethod
    def place_held(now, prefix=""):
        """The Q of "holds a place on its item" at ``now``: submitted, or leased and not yet expired (``prefix``
        reaches assignments across a relation, e.g. "assignments__" from CampaignItem). The one home of the
        rule that the overlap cap counts."""
        status, expires = f"{prefix}status", f"{prefix}expires_at__gt"
        return Q(**{status: Assignment.Status.SUBMITTED}) | Q(
            **{status: Assignment.Status.LEASED, expires: now}
        )

    def holding_place(self, now):
        """Assignments that hold a place on their item at ``now`` (see ``place_held``)."""
        return self.filter(self.place_held(now))


class Assignment(models.Model):
    """One annotator's hold on one item: a lease, then a submission or a skip.

    ``display_order[i]`` is the comparison position shown in screen slot i (A, B, …);
    submissions arrive in screen slots and are stored in comparison positions."""

    class Status(models.TextChoices):
        LEASED = "leased"
        SUBMITTED = "submitted"
        SKIPPED = "skipped"

    item = models.ForeignKey(CampaignItem, on_delete=models.CASCADE, related_name="assignments")
    annotator = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="assignments"
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.LEASED, db_index=True)
    display_order = models.JSONField()
    leased_at = models.DateTimeField()
    expires_at = models.DateTimeField(db_index=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    judgment = models.OneToOneField(
        Judgment, null=True, blank=True, on_delete=models.PROTECT, related_name="assignment"
    )
    skip_reason = models.CharField(max_length=300, blank=True)
    skipped_at = models.DateTimeField(
        null=True, blank=True, help_text="When it was skipped (undo takes back the latest action)."
    )
    edited_answer = models.TextField(
        blank=True, help_text="A better answer the annotator wrote (if the rubric asks)."
    )
    check_passed = models.BooleanField(
        null=True, blank=True, help_text="Gold/attention items: matched the expected answer."
    )

    objects = AssignmentQuerySet.as_manager()

    class Meta:
        ordering = ["-leased_at"]
        constraints = [
            models.UniqueConstraint(fields=["item", "annotator"], name="assignment_once_per_annotator"),
            models.CheckConstraint(
                name="assignment_submitted_has_judgment",
                condition=~Q(status="submitted") | Q(judgment__isnull=False),
            ),
            models.CheckConstraint(
                name="assignment_skip_has_reason",
                condition=~Q(status="skipped") | ~Q(skip_reason=""),
            ),
        ]

    def __str__(self):
        return f"{self.annotator_id} on item {self.item_id} ({self.status})"

    is_repeat = False  # see RepeatCheck


class AnnotatorStanding(models.Model):
    """Quality state of one annotator in one campaign (set from gold accuracy; researchers may reset it)."""

    class State(models.TextChoices):
        OK = "ok"
        WARNED = "warned"
        PAUSED = "paused"

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="standings")
    annotator = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="campaign_standings"
    )
    state = models.CharField(max_length=8, choices=State.choices, default=State.OK)
    checks = models.PositiveIntegerField(default=0)
    passed = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["campaign", "annotator"], name="standing_unique"),
            models.CheckConstraint(
                name="standing_passed_le_checks", condition=Q(passed__lte=models.F("checks"))
            ),
        ]

    def __str__(self):
        return f"{self.annotator_id} in {self.campaign_id}: {self.state}"


class Adjudication(models.Model):
    """A reviewer's final answer on an item the annotators disagreed on (judgments stay untouched)."""

    item = models.OneToOneField(CampaignItem, on_delete=models.CASCADE, related_name="adjudication")
    ranking = models.JSONField(help_text="Tie groups of comparison positions, best first.")
    note = models.TextField(blank=True)
    adjudicator = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return f"Adjudication of item {self.item_id}"


class AnnotatorProfile(models.Model):
    """Opt-in facts about an annotator, kept apart from judgments; researchers of a campaign they worked on may read it."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="annotator_profile"
    )
    opted_in = models.BooleanField(default=False)
    expertise = models.CharField(max_length=300, blank=True)
    languages = models.CharField(max_length=300, blank=True)
    demographics = models.JSONField(default=dict, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self):
        return f"Profile of {self.user_id}"


class RepeatCheck(models.Model):
    """A self-consistency repeat: an item the annotator already judged, shown to them again later in a new
    random order.

    It is deliberately not a Judgment (one judgment per annotator per comparison stays true) and not a
    second Assignment (one assignment per annotator per item stays true): the repeat answer lives here,
    next to the original assignment it repeats, so overlap, agreement, rankings and exports — which all
    read Judgments and Assignments — never see it twice. ``ranking`` and ``answer`` are in comparison
    positions, like a Judgment's."""

    class Status(models.TextChoices):
        LEASED = "leased"
        SUBMITTED = "submitted"
        SKIPPED = "skipped"

    original = models.OneToOneField(Assignment, on_delete=models.CASCADE, related_name="repeat")
    item = models.ForeignKey(CampaignItem, on_delete=models.CASCADE, related_name="repeats")
    annotator = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="repeat_checks"
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.LEASED, db_index=True)
    display_order = models.JSONField(
        help_text="Screen slot i showed this comparison position (a new random order)."
    )
    leased_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    submitted_at = models.DateTimeField(null=True, blank=True)
    ranking = models.JSONField(
        null=True, blank=True, help_text="The repeat answer's tie groups, comparison positions."
    )
    answer = models.JSONField(
        default=dict, blank=True, help_text="The rest of the repeat answer (aspects, strength, …)."
    )
    time_spent_ms = models.PositiveIntegerField(null=True, blank=True)
    skip_reason = models.CharField(max_length=300, blank=True)
    skipped_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-leased_at"]
        constraints = [
            models.CheckConstraint(
                name="repeat_submitted_has_ranking",
                condition=~Q(status="submitted") | Q(ranking__isnull=False),
            ),
        ]

    def __str__(self):
        return f"Repeat of assignment {self.original_id} ({self.status})"

    is_repeat = True


class JudgmentRevision(models.Model):
    """An earlier version of a campaign judgment, kept when its annotator revised it (My judgments).

    The Judgment row always holds the current answer (so agreement and exports read one row per annotator);
    each revision copies the answer it replaced, in comparison positions, with when it was first made."""

    judgment = models.ForeignKey(Judgment, on_delete=models.CASCADE, related_name="revisions")
    version = models.PositiveIntegerField(help_text="1 is the first answer given.")
    ranking = models.JSONField()
    answer = models.JSONField(
        default=dict, help_text="The rest: strength, confidence, aspects, reasons, rationale, …"
    )
    edited_answer = models.TextField(blank=True)
    made_at = models.DateTimeField(help_text="When this version was given.")
    replaced_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["judgment", "version"]
        constraints = [
            models.UniqueConstraint(fields=["judgment", "version"], name="judgment_revision_version_unique")
        ]

    def __str__(self):
        return f"Judgment {self.judgment_id} v{self.version}"


# ---------------------------------------------------------------------------
# Human/AI routing (issue 10). The router lives in routing/, which nothing may
# import; it keeps its settings and its decisions here, in rows annotation owns,
# so the queue (which items people are served) and the export (which label a
# row carries, and why) can read them. Written only through
# annotation.routing_records.
# ---------------------------------------------------------------------------


class CampaignRouting(models.Model):
    """Whether and how a campaign's items are split between people and AI judges."""

    class Policy(models.TextChoices):
        LEARNED = "learned", "learned (predicted gain of a human label)"
        UNCERTAINTY = "uncertainty", "uncertainty (least-confident AI labels)"
        RANDOM = "random", "random"

    campaign = models.OneToOneField(Campaign, on_delete=models.CASCADE, related_name="routing")
    enabled = models.BooleanField(
        default=False, help_text="Off: every item goes to people, as without routing."
    )
    budget_share = models.FloatField(
        null=True, blank=True, help_text="Share of the items people label (0–1)."
    )
    budget_count = models.PositiveIntegerField(
        null=True, blank=True, help_text="Or: how many items people label."
    )
    audit = models.FloatField(
        default=0.05,
        help_text="Share of the human budget drawn at random, to estimate AI quality without bias.",
    )
    policy = models.CharField(max_length=16, choices=Policy.choices, default=Policy.LEARNED)
    judges = models.ManyToManyField(
        ModelEndpoint,
        blank=True,
        related_name="routed_campaigns",
        help_text="AI judges that label every item first.",
    )
    tagger = models.ForeignKey(
        ModelEndpoint,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Optional LLM that tags prompts; heuristic tags otherwise.",
    )
    refit_every = models.PositiveIntegerField(
        default=20, help_text="Refit the router after this many new human labels."
    )
    seed = models.IntegerField(default=0)
    # Written by the router at each refit.
    model_version = models.CharField(max_length=64, blank=True)
    fit_cutoff = models.BigIntegerField(
        default=0, help_text="The last human judgment id the current model learned from."
    )
    labels_at_fit = models.PositiveIntegerField(default=0)
    fitted_at = models.DateTimeField(null=True, blank=True)
    estimates = models.JSONField(
        default=dict, blank=True, help_text="Agreement per slice from the audit share, gains."
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                name="routing_budget_share_0_1",
                condition=Q(budget_share__isnull=True) | Q(budget_share__gte=0, budget_share__lte=1),
            ),
            models.CheckConstraint(name="routing_audit_0_1", condition=Q(audit__gte=0, audit__lte=1)),
            models.CheckConstraint(name="routing_refit_every_at_least_1", condition=Q(refit_every__gte=1)),
        ]

    def __str__(self):
        return f"Routing of {self.campaign}"

    @property
    def budget_text(self):
        if self.budget_count is not None:
            return f"{self.budget_count} items"
        return f"{(self.budget_share or 0):.0%} of items"


class RoutingDecision(models.Model):
    """Where one campaign item went (people or the AI judges) and why. Items people have been
    served never move; the others may move at a refit."""

    class Destination(models.TextChoices):
        HUMAN = "human"
        AI = "ai"

    item = models.OneToOneField(CampaignItem, on_delete=models.CASCADE, related_name="routing")
    destination = models.CharField(max_length=8, choices=Destination.choices, db_index=True)
    policy = models.CharField(max_length=32)
    predicted_gain = models.FloatField(null=True, blank=True)
    model_version = models.CharField(max_length=64, blank=True)
    reason = models.TextField(help_text="The router's sentence: why the item went where it went.")
    audit = models.BooleanField(default=False, help_text="Drawn at random for the audit share.")
    slice = models.CharField(
        max_length=100, blank=True, help_text="The prompt's domain tag, for per-slice estimates."
    )
    ai_label = models.CharField(
        max_length=8, blank=True, help_text='The AI judges\' label when decided: "a", "b" or "tie".'
    )
    ai_confidence = models.FloatField(null=True, blank=True)
    decided_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["item_id"]

    def __str__(self):
        return f"Item {self.item_id} → {self.destination}"


class JudgingTask(models.Model):
    """An AI judge's verdict asked for and not given yet: judge work in flight, so the sweeper can
    queue again what a dead worker (or a lost message) stranded.

    Made when the judging is queued; a worker claims it (running, attempts + 1) and stamps
    ``heartbeat_at`` while it judges; deleted once the verdict (or a refusal) is stored. At most one
    verdict per (comparison, judge version) either way: the Judgment constraint."""

    class Status(models.TextChoices):
        PENDING = "pending"
        RUNNING = "running"

    comparison = models.ForeignKey(Comparison, on_delete=models.CASCADE, related_name="judging_tasks")
    judge = models.ForeignKey(ModelEndpoint, on_delete=models.CASCADE, related_name="judging_tasks")
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    heartbeat_at = models.DateTimeField(
        auto_now_add=True, help_text="Last sign of life (queued, claimed or stamped)."
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["comparison", "judge"], name="one_judging_task_per_judge")
        ]

    def __str__(self):
        return f"judge {self.judge_id} on comparison {self.comparison_id} ({self.status}, attempt {self.attempts})"
