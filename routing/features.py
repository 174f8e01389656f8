"""Routing features of real comparisons (Django glue): prompt tags, pair features and the AI judges'
verdicts, stored once per comparison in routing.ComparisonFeatures so a refit never recomputes them.

Prompt tags follow HyPER's metadata (domain, expertise needed, safety concern, intent complexity, format
constraints). An LLM tagger runs through any registered endpoint with a versioned prompt; the heuristic
tagger is always there (and fills whatever the LLM's reply leaves out), so the demo works without a
capable model."""

import logging
import math
import re

from annotation.judges import FLIP_TAG
from annotation.models import ComparisonSlot, Judgment
from inference.categories import categorize
from inference.languages import complexity
from inference.reward_model import embed
from inference.services import backend_for

from .models import ComparisonFeatures

log = logging.getLogger(__name__)

FEATURES_VERSION = "f1"
TAGGER_PROMPT_VERSION = "tags-v1"
TAGGER_PROMPT = (
    "Describe this request to an AI assistant. Reply in exactly these five lines:\n"
    "domain: one of coding, math, science, health, legal, finance, creative, advice, general\n"
    "expertise: one of none, some, expert\n"
    "safety: one of none, moderate, high\n"
    "complexity: one of simple, moderate, complex\n"
    "format: one of none, some, strict\n\n"
    "Request:\n{prompt}"
)
TAG_VALUES = {
    "domain": {"coding", "math", "science", "health", "legal", "finance", "creative", "advice", "general"},
    "expertise": {"none", "some", "expert"},
    "safety": {"none", "moderate", "high"},
    "complexity": {"simple", "moderate", "complex"},
    "format": {"none", "some", "strict"},
}

_SAFETY_HIGH = re.compile(
    r"\b(weapon|bomb|explosive|kill|suicide|self-harm|poison|overdose|hack into|malware)\b", re.I
)
_SAFETY_MODERATE = re.compile(
    r"\b(medication|dose|diagnos\w*|symptom|lawsuit|legal advice|invest\w*|loan|drug|alcohol|"
    r"password|security|risk|danger\w*|illegal|surgery|pregnan\w*)\b",
    re.I,
)
_HEALTH = re.compile(r"\b(health|medic\w*|doctor|symptom|disease|diet|pain|therapy|vaccine)\b", re.I)
_LEGAL = re.compile(r"\b(law|legal|contract|court|lawsuit|tenant|copyright|visa)\b", re.I)
_FINANCE = re.compile(r"\b(money|invest\w*|stock|tax(es)?|loan|mortgage|budget|salary|crypto)\b", re.I)
_SCIENCE = re.compile(r"\b(physics|chemistry|biology|molecule|quantum|evolution|climate|atom|cell)\b", re.I)
_EXPERT = re.compile(
    r"\b(prove|theorem|derive|asymptotic|complexity of|kernel|compiler|pharmacokinetic|statute|"
    r"eigen\w*|differential|regression|concurrency|cryptograph\w*)\b",
    re.I,
)
_FORMAT_STRICT = re.compile(
    r"\b(exactly \d+|in \d+ words|json|yaml|csv|table|no more than|at most \d+|only (?:the|one)|one word)\b",
    re.I,
)
_FORMAT_SOME = re.compile(r"\b(list|bullet|steps|numbered|paragraph|short|brief|summar\w*|format)\b", re.I)


def heuristic_tags(text):
    """The five tags from keyword rules: transparent, instant, and never missing."""
    text = text or ""
    category = categorize(text)
    if category in ("coding", "math", "creative"):
        domain = category
    else:
        domain = next(
            (
                name
                for name, pattern in (
                    ("health", _HEALTH),
                    ("legal", _LEGAL),
                    ("finance", _FINANCE),
                    ("science", _SCIENCE),
                )
                if pattern.search(text)
            ),
            "general",
        )
    return {
        "domain": domain,
        "expertise": "expert"
        if _EXPERT.search(text)
        else ("some" if domain in ("coding", "math", "science", "legal", "health") else "none"),
        "safety": "high"
        if _SAFETY_HIGH.search(text)
        else ("moderate" if _SAFETY_MODERATE.search(text) else "none"),
        "complexity": complexity(text),  # the same rule the arena's hard-prompt board uses
        "format": "strict"
        if _FORMAT_STRICT.search(text)
        else ("some" if _FORMAT_SOME.search(text) else "none"),
    }


def parse_tags(reply):
    """The tags an LLM's reply names with an allowed value; the rest are left out."""
    tags = {}
    for line in (reply or "").splitlines():
        key, _, value = line.partition(":")
        key, value = key.strip().lower().strip("*- "), value.strip().lower().strip("*. ")
        if key in TAG_VALUES and value in TAG_VALUES[key]:
            tags.setdefault(key, value)
    return tags


def prompt_tags(text, tagger=None):
    """(tags, tagger version): the LLM's tags where it gave a valid one, the heuristic's elsewhere."""
    tags = heuristic_tags(text)
    if tagger is None:
        return tags, "heuristic"
    try:
        reply = (
            backend_for(tagger)
            .generate(
                tagger.path,
                [{"role": "user", "content": TAGGER_PROMPT.format(prompt=text[:4000])}],
                {"max_new_tokens": 60, "temperature": 0},
            )
            .text
        )
    except Exception as exc:  # noqa: BLE001 - any backend failure falls back to the heuristic tags
        log.warning("tagger %s failed, using heuristic tags: %s", tagger.name, exc)
        return tags, "heuristic"
    found = parse_tags(reply)
    tags.update(found)
    return tags, f"{tagger.name}/{TAGGER_PROMPT_VERSION}" + (
        "" if len(found) == len(TAG_VALUES) else "+heuristic"
    )


def label_of(ranking):
    """ "a", "b" or "tie" from a K = 2 ranking of positions."""
    if len(ranking) == 1:
        return "tie"
    return "a" if ranking[0] == [0] else "b"


def majority_label(labels):
    """The most common label; a tie between the most common counts as "tie"."""
    if not labels:
        return None
    counts = {label: labels.count(label) for label in set(labels)}
    top = max(counts.values())
    best = [label for label, count in counts.items() if count == top]
    return best[0] if len(best) == 1 else "tie"


def judge_verdicts(comparison_ids, judges):
    """comparison id -> {judge name: (label, confidence 0–1 or None, position flip)}, in one query."""
    verdicts = {}
    rows = (
        Judgment.objects.filter(
            comparison_id__in=list(comparison_ids), source=Judgment.Source.AI, judge__in=judges
        )
        .order_by("pk")
        .values_list("comparison_id", "judge__name", "ranking", "confidence", "reason_tags")
    )
    for comparison_id, judge, ranking, confidence, tags in rows:
        score = None if confidence is None else max(0.0, min(1.0, (confidence - 1) / 4))
        verdicts.setdefault(comparison_id, {})[judge] = (label_of(ranking), score, FLIP_TAG in (tags or []))
    return verdicts


def ai_consensus(verdicts):
    """(label, confidence 0–1) of the judges together: the majority label, its confidence discounted by
    disagreement and by position flips."""
    if not verdicts:
        return None, 0.0
    labels = [label for label, _, _ in verdicts.values()]
    label = majority_label(labels)
    agreeing = [conf if conf is not None else 0.5 for lab, conf, _ in verdicts.values() if lab == label]
    share = len(agreeing) / len(verdicts)
    confidence = (sum(agreeing) / len(agreeing) if agreeing else 0.0) * share
    if any(flip for _, _, flip in verdicts.values()):
        confidence *= 0.5
    return label, round(confidence, 4)


def verdict_features(verdicts, lengths):
    """What the judges said, as features: read fresh at each refit (a late verdict counts)."""
    label, confidence = ai_consensus(verdicts)
    features = {
        "ai_label": label or "none",
        "ai_confidence": confidence,
        "ai_prefers_longer": bool(
            label in ("a", "b") and lengths[0] != lengths[1] and (label == "a") == (lengths[0] > lengths[1])
        ),
        "position_flip": any(flip for _, _, flip in verdicts.values()),
        "judges_disagree": len({lab for lab, _, _ in verdicts.values()}) > 1,
        "judges_count": len(verdicts),
    }
    for name, (judge_label, judge_confidence, _) in verdicts.items():
        features[f"judge_{name}_label"] = judge_label
        if judge_confidence is not None:
            features[f"judge_{name}_confidence"] = judge_confidence
    return features


def _similarities(pairs, batch_size=64):
    """Cosine similarity of each pair's two answers (MiniLM embeddings, each with its prompt), batched."""
    prompts = [prompt for prompt, _ in pairs for _ in range(2)]
    answers = [answer for _, texts in pairs for answer in texts]
    vectors = embed(prompts, answers, batch_size=batch_size)
    return [float((vectors[2 * i] * vectors[2 * i + 1]).sum()) for i in range(len(pairs))]


def _reward_margin(judges, comparison, texts):
    for judge in judges:
        if judge.judge_method == judge.JudgeMethod.REWARD_MODEL:
            scores = backend_for(judge).score_answers(judge.path, comparison.prompt.conversation, texts)
            return float(scores[0] - scores[1])
    return None


def content_features(comparisons, judges, tagger=None):
    """comparison id -> (features, tagger version): the prompt's tags and the pair's own features (lengths,
    embedding similarity of the answers, the reward model's margin) — what costs a model call, so it is
    stored. Embeddings are computed in batches."""
    slots = (
        ComparisonSlot.objects.filter(comparison__in=comparisons)
        .select_related("response")
        .order_by("position")
    )
    texts = {}
    for slot in slots:
        texts.setdefault(slot.comparison_id, []).append(slot.response.text)
    found, to_embed = {}, []
    for comparison in comparisons:
        answers = texts[comparison.pk]
        prompt = comparison.prompt.last_user_text
        tags, tagger_version = prompt_tags(prompt, tagger)
        lengths = [len(t) for t in answers]
        features = {f"tag_{key}": value for key, value in tags.items()}
        features.update(
            prompt_words=len(prompt.split()),
            len_a=lengths[0],
            len_b=lengths[1],
            len_diff=lengths[0] - lengths[1],
            len_diff_abs=abs(lengths[0] - lengths[1]),
            len_ratio=round(min(lengths) / max(lengths), 4) if max(lengths) else 1.0,
        )
        margin = _reward_margin(judges, comparison, answers)
        if margin is not None and math.isfinite(margin):
            features["reward_margin"] = round(margin, 4)
        if all(t.strip() for t in answers):
            to_embed.append((comparison.pk, prompt, answers))
        found[comparison.pk] = (features, tagger_version)
    if to_embed:
        for (pk, _, _), similarity in zip(to_embed, _similarities([(p, a) for _, p, a in to_embed])):
            found[pk][0]["answer_similarity"] = round(similarity, 4)
    return found


def stored_features(comparisons, judges, tagger=None):
    """comparison id -> content features, computed once per tagger and reward judge, then read back."""
    reward = ",".join(sorted(j.name for j in judges if j.judge_method == j.JudgeMethod.REWARD_MODEL))
    key = f"{FEATURES_VERSION}:{tagger.name if tagger else ''}:{reward}"[:200]
    stored = dict(
        ComparisonFeatures.objects.filter(comparison__in=comparisons, version=key).values_list(
            "comparison_id", "features"
        )
    )
    missing = [c for c in comparisons if c.pk not in stored]
    for start in range(0, len(missing), 256):
        for pk, (features, tagger_version) in content_features(
            missing[start : start + 256], judges, tagger
        ).items():
            ComparisonFeatures.objects.update_or_create(
                comparison_id=pk,
                defaults={"features": features, "version": key, "tagger_version": tagger_version},
            )
            stored[pk] = features
    return stored
