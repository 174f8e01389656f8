import hashlib
import json
import os

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q

env_var_name = RegexValidator(
    r"^[A-Za-z_][A-Za-z0-9_]*$",
    "Give the name of an environment variable (letters, digits, underscores), not a key.",
)


class ModelEndpoint(models.Model):
    """A model under evaluation (or, later, a judge), and how to reach it."""

    class Backend(models.TextChoices):
        TRANSFORMERS = "transformers", "transformers (local directory)"
        LLAMA_CPP = "llama_cpp", "llama.cpp (local GGUF file, in the worker)"
        OPENAI = "openai", "OpenAI-compatible HTTP API (vLLM, TGI, llama.cpp, Ollama)"
        REWARD_MODEL = "reward_model", "reward model (local directory; scores answers, writes none)"
        DIFFUSERS = "diffusers", "diffusers pipeline (local directory; text-to-image)"

    class OutputKind(models.TextChoices):
        TEXT = "text", "text"
        IMAGE = "image", "image"
        VIDEO = "video", "video"

    class JudgeMethod(models.TextChoices):
        NONE = "", "not a judge"
        LLM = "llm", "LLM judge (rubric prompt, every order)"
        REWARD_MODEL = "reward_model", "reward-model judge (scores each answer)"

    name = models.SlugField(
        max_length=100, unique=True, help_text="Stable identifier, shown on the leaderboard."
    )
    display_name = models.CharField(max_length=200, blank=True)
    backend = models.CharField(max_length=32, choices=Backend.choices, default=Backend.TRANSFORMERS)
    path = models.CharField(
        max_length=500,
        help_text="Local model directory (safetensors + tokenizer), or for the HTTP backend the API's base URL, "
        "e.g. http://127.0.0.1:8000/v1.",
    )
    api_model = models.CharField(
        max_length=200,
        blank=True,
        help_text="HTTP backend: the model name the API expects (default: this endpoint's name).",
    )
    api_key_env = models.CharField(
        max_length=100,
        blank=True,
        validators=[env_var_name],
        help_text="HTTP backend: the NAME of the environment variable that holds the API key on the workers "
        "(e.g. OPENAI_API_KEY). The key itself is never stored here.",
    )
    timeout_s = models.PositiveIntegerField(
        default=120, help_text="HTTP backend: seconds before a request is abandoned."
    )
    max_retries = models.PositiveSmallIntegerField(
        default=3,
        help_text="HTTP backend: retries (with backoff) after a timeout, a refused connection, 429 or 5xx.",
    )
    max_concurrency = models.PositiveSmallIntegerField(
        default=4, help_text="HTTP backend: requests in flight at once to this endpoint, per worker process."
    )
    context_tokens = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="llama.cpp: the context window in tokens, prompt and answer together "
        "(empty: INFERENCE_LLAMA_CONTEXT or 4096, at most what the model was trained for).",
    )
    threads = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        help_text="Local models on CPU (llama.cpp, transformers): threads for one answer (empty: INFERENCE_THREADS, "
        "else the worker's cores divided by INFERENCE_PARALLEL_ANSWERS, default 2).",
    )
    output_kind = models.CharField(
        max_length=8,
        choices=OutputKind.choices,
        default=OutputKind.TEXT,
        help_text="What this model answers with: text (chat), image (text-to-image, the diffusers backend or an "
        "OpenAI-compatible /v1/images API) or video.",
    )
    generation_params = models.JSONField(
        default=dict,
        blank=True,
        help_text='e.g. {"max_new_tokens": 256, "temperature": 0.7, "system_prompt": "..."}',
    )
    identity_words = models.JSONField(
        default=list,
        blank=True,
        help_text='Words that give this model away in its own answers (family, maker), e.g. ["smollm", "hugging face"]. '
        "The name and display name always count.",
    )
    license = models.CharField(max_length=100, blank=True)
    provider = models.CharField(
        max_length=100,
        blank=True,
        help_text="Who makes this model (e.g. a lab); shown after votes, counted on the sampling page.",
    )
    private = models.BooleanField(
        default=False,
        help_text="A private (hidden) variant under test: capped per provider in arenas; not yet released.",
    )
    released_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When this variant went public (empty: when it was added, unless private).",
    )
    enabled = models.BooleanField(default=True, help_text="Off = outage: never drawn into new battles.")
    judge_method = models.CharField(
        max_length=16,
        choices=JudgeMethod.choices,
        blank=True,
        default="",
        help_text="Set to use this endpoint as an AI judge.",
    )
    judge_settings = models.JSONField(
        default=dict,
        blank=True,
        help_text='LLM judge: {"rubric": "pairwise-v1", "confidence": "verbal" or "likelihood"}.',
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                name="endpoint_concurrency_at_least_1", condition=Q(max_concurrency__gte=1)
            ),
            models.CheckConstraint(
                name="endpoint_context_at_least_64",
                condition=Q(context_tokens__isnull=True) | Q(context_tokens__gte=64),
            ),
            models.CheckConstraint(
                name="endpoint_threads_at_least_1", condition=Q(threads__isnull=True) | Q(threads__gte=1)
            ),
        ]

    def __str__(self):
        return self.display_name or self.name

    @property
    def api_key_status(self):
        """Whether the named key is set in this process's environment; never the key."""
        if not self.api_key_env:
            return "no key"
        return "set" if os.environ.get(self.api_key_env) else "not set here"

    def backend_options(self):
        """What a backend needs besides the path; names of secrets, never secrets."""
        return {
            "api_model": self.api_model or self.name,
            "api_key_env": self.api_key_env,
            "timeout_s": self.timeout_s,
            "max_retries": self.max_retries,
            "max_concurrency": self.max_concurrency,
            "context_tokens": self.context_tokens,
            "threads": self.threads,
            "output_kind": self.output_kind,
        }

    def cache_key(self, params):
        """(model, parameters) as one digest: same weights, same API model, same settings."""
        return params_digest(
            {"backend": self.backend, "path": self.path, "api_model": self.api_model, "params": params or {}}
        )

    def identity_markers(self):
        """Lower-case words whose presence in an answer reveals this model."""
        words = [self.name, self.display_name, self.provider, *self.identity_words]
        return {w.strip().lower() for w in words if w and w.strip()}


def params_digest(value):
    """A stable digest of a JSON-able value (key order does not matter)."""
    return hashlib.sha256(json.dumps(value, sort_keys=True, separators=(",", ":")).encode()).hexdigest()[:32]


class Prompt(models.Model):
    """A conversation to answer: a list of {"role", "content"} turns ending with the user."""

    conversation = models.JSONField()
    category = models.CharField(
        max_length=32,
        blank=True,
        db_index=True,
        help_text="coding, math, creative, general… (leaderboards per category)",
    )
    language = models.CharField(
        max_length=16,
        blank=True,
        db_index=True,
        help_text="Detected language code (e.g. en, fr); blank = too short to tell.",
    )
    hard = models.BooleanField(
        default=False, db_index=True, help_text="A hard prompt: long, or complex by the tagger's rule."
    )
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        text = self.last_user_text
        return text[:80] + ("…" if len(text) > 80 else "")

    @property
    def last_user_text(self):
        for turn in reversed(self.conversation or []):
            if turn.get("role") == "user":
                return turn.get("content", "")
        return ""


class Response(models.Model):
    """One model's answer to one prompt; generated by a worker, never in a web request."""

    class Status(models.TextChoices):
        PENDING = "pending"
        RUNNING = "running"
        DONE = "done"
        FAILED = "failed"

    prompt = models.ForeignKey(Prompt, on_delete=models.CASCADE, related_name="responses")
    endpoint = models.ForeignKey(ModelEndpoint, on_delete=models.PROTECT, related_name="responses")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING, db_index=True)
    text = models.TextField(blank=True, help_text="The answer; grows while the model streams.")
    error = models.TextField(blank=True, help_text="Why generation failed (admins only).")
    generation_params = models.JSONField(default=dict, blank=True)
    cache_key = models.CharField(
        max_length=32,
        blank=True,
        db_index=True,
        help_text="Digest of (model, parameters); pooled answers are unique by it.",
    )
    pooled = models.BooleanField(
        default=False, help_text="Generated ahead of time for a response pool (reusable)."
    )
    prompt_tokens = models.PositiveIntegerField(null=True, blank=True)
    completion_tokens = models.PositiveIntegerField(null=True, blank=True)
    latency_ms = models.PositiveIntegerField(null=True, blank=True)
    first_token_ms = models.PositiveIntegerField(
        null=True, blank=True, help_text="From the worker starting this answer to its first streamed text."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="Last sign of life: queued again, claimed, or stamped by the worker generating it. "
        "A running answer whose stamp is stale lost its worker and is re-queued.",
    )
    attempts = models.PositiveSmallIntegerField(
        default=0,
        help_text="Claims so far; only the latest claim may write (a second try never writes twice).",
    )
    # Media answers (inference.media): the file sits in the prefarena_media storage under a random
    # name, stripped of generator metadata; it is served only through annotation.media_views.
    Kind = ModelEndpoint.OutputKind
    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.TEXT)
    media_name = models.CharField(max_length=200, blank=True, db_index=True)
    media_sha256 = models.CharField(max_length=64, blank=True)
    media_width = models.PositiveIntegerField(null=True, blank=True)
    media_height = models.PositiveIntegerField(null=True, blank=True)
    media_duration_ms = models.PositiveIntegerField(null=True, blank=True, help_text="Videos only.")
    media_format = models.CharField(max_length=8, blank=True, help_text="png, jpg, webp, mp4, webm")
    seed = models.BigIntegerField(null=True, blank=True, help_text="The seed the answer was generated with.")

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                name="response_failed_has_error",
                condition=~Q(status="failed") | ~Q(error=""),
            ),
            models.CheckConstraint(
                name="response_done_media_has_file",
                condition=~Q(status="done") | Q(kind="text") | ~Q(media_name=""),
            ),
            models.UniqueConstraint(
                fields=["endpoint", "prompt", "cache_key"],
                condition=Q(pooled=True),
                name="pooled_response_unique_per_model_prompt_params",
            ),
        ]

    def __str__(self):
        return f"{self.endpoint.name} → prompt {self.prompt_id} ({self.status})"


class PromptImage(models.Model):
    """An input image of a prompt (image editing, vision-language prompts), stored like a media answer."""

    prompt = models.ForeignKey(Prompt, on_delete=models.CASCADE, related_name="images")
    position = models.PositiveSmallIntegerField(default=0)
    media_name = models.CharField(max_length=200, unique=True)
    media_sha256 = models.CharField(max_length=64)
    media_width = models.PositiveIntegerField()
    media_height = models.PositiveIntegerField()
    media_format = models.CharField(max_length=8)

    class Meta:
        ordering = ["prompt", "position"]
        constraints = [
            models.UniqueConstraint(fields=["prompt", "position"], name="prompt_image_position_unique")
        ]

    def __str__(self):
        return f"image {self.position} of prompt {self.prompt_id}"


class ResponsePool(models.Model):
    """Prompts × models answered ahead of time, so battles and campaigns need not wait.

    Answers are cached by (model, prompt, parameters): a pool, or two pools, never
    generate the same answer twice."""

    name = models.SlugField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    prompts = models.ManyToManyField(Prompt, related_name="pools", blank=True)
    endpoints = models.ManyToManyField(ModelEndpoint, related_name="pools", blank=True)
    params_override = models.JSONField(
        default=dict, blank=True, help_text='Merged over each model\'s own parameters, e.g. {"seed": 0}.'
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name

    def params_for(self, endpoint):
        return {**endpoint.generation_params, **self.params_override}
