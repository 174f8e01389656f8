import os
from dataclasses import dataclass


@dataclass
class Generation:
    text: str
    prompt_tokens: int | None  # None: the backend could not say (an HTTP server without usage)
    completion_tokens: int
    image: object = None  # an image answer: a Pillow image or encoded bytes (stored by inference.media)
    seed: int | None = None  # the seed this answer was generated with, when the backend knows it


def user_text_and_images(conversation):
    """(the last user turn's text, its images as data URLs) from a conversation whose turns may carry
    OpenAI-style content parts ({"type": "text"} / {"type": "image_url"})."""
    for turn in reversed(conversation):
        if turn.get("role") != "user":
            continue
        content = turn.get("content", "")
        if isinstance(content, str):
            return content, []
        texts = [part.get("text", "") for part in content if part.get("type") == "text"]
        images = [part["image_url"]["url"] for part in content if part.get("type") == "image_url"]
        return "\n".join(texts), images
    return "", []


class GenerationError(Exception):
    """A model could not produce an answer; the message is shown to admins (never a secret)."""


class Backend:
    """One interface for every way of reaching a model.

    ``generate(path, conversation, params, on_text=None, device="auto") -> Generation``;
    ``on_text(text_so_far)`` is called as text streams in. ``path`` is a local directory
    or, for HTTP backends, a base URL. ``generate_batch`` answers several conversations
    together (the K answers of a comparison, a pool chunk); ``score_choices`` gives the
    log-likelihood of each candidate continuation (LLM judges' likelihood confidence)."""

    def __init__(self, **options):
        self.options = options

    def generate(self, path, conversation, params=None, on_text=None, device="auto"):
        raise NotImplementedError

    def generate_batch(self, path, conversations, params=None, device="auto"):
        return [self.generate(path, conversation, params, device=device) for conversation in conversations]

    def score_choices(self, path, conversation, choices, params=None, device="auto"):
        raise GenerationError(
            f"The {type(self).__name__} cannot score choices by likelihood; use verbal confidence for this judge."
        )


def with_system_prompt(conversation, system_prompt=""):
    """The turns a model reads: the endpoint's system prompt (if any) first."""
    return ([{"role": "system", "content": system_prompt}] if system_prompt else []) + list(conversation)


def plain_transcript(turns):
    """A prompt for base models that have no chat template: "User: …" lines, then "Assistant:"."""
    lines = [f"{turn['role'].capitalize()}: {turn['content']}" for turn in turns]
    return "\n".join(lines) + "\nAssistant:"


def max_new_tokens(params, prompt_tokens, limit):
    """The answer's token budget: what was asked for, clamped to what the context leaves."""
    wanted = int(params.get("max_new_tokens", 256))
    if limit is None:
        return wanted
    if prompt_tokens >= limit:
        raise GenerationError(
            f"The prompt is {prompt_tokens} tokens long; this model reads at most {limit}. Shorten the prompt."
        )
    return min(wanted, limit - prompt_tokens)


def cpu_threads_per_answer():
    """CPU threads for one answer: INFERENCE_THREADS, else the cores shared by the answers a worker
    writes at once (INFERENCE_PARALLEL_ANSWERS, default 2: a battle's two sides), at least 1.
    More threads than cores make the answers' threads fight, and everything slows down."""
    if os.environ.get("INFERENCE_THREADS"):
        return max(1, int(os.environ["INFERENCE_THREADS"]))
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, cores // max(1, int(os.environ.get("INFERENCE_PARALLEL_ANSWERS", "2"))))


def cut_at_stop(text, stops):
    """(text up to the first of the stop strings, whether one occurred): ``params["stop"]``."""
    positions = [i for i in (text.find(s) for s in stops or () if s) if i >= 0]
    return (text[: min(positions)], True) if positions else (text, False)
