"""AI judges: endpoints whose verdicts are `Judgment`s with source "ai".

- The **LLM judge** reads a versioned rubric prompt and judges each comparison in every
  rotation of the answers (both orders for K = 2), so position bias is measured, not
  hidden: a verdict that changes with the order is recorded as a tie with the reason
  tag "position-flip". Confidence is verbal (the judge says 1–5) or likelihood-based
  (the probability it gives each answer's letter; local models only). Its rationale is
  stored. Any backend works (a local model or an OpenAI-compatible API).
- The **reward-model judge** scores each answer with a Bradley–Terry head on
  all-MiniLM-L6-v2, trained here from the platform's own human judgments
  (``train_reward_judge``); its ranking does not depend on the order shown.

The judge prompt version (rubric + confidence mode, or the reward model's training id) is
part of the Judgment, so a changed rubric is a new judge in the scorecard."""

import functools
import logging
import math
import re
import time
import zlib
from collections.abc import Iterable
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from inference.heartbeat import Heartbeat, stale_before
from inference.models import ModelEndpoint
from inference.reward_model import save_reward_model, train_bradley_terry
from inference.services import backend_for, enqueue

from .models import Comparison, JudgingTask, Judgment
from .services import record_judgment

log = logging.getLogger(__name__)

RUBRICS = {
    "pairwise-v1": (
        "You are an impartial judge of AI assistants' answers.\n\n"
        "The user asked:\n{prompt}\n\n{answers}\n\n"
        "Which answer is best: the most helpful, correct and clear for the user? "
        "Do not let the order or the length of the answers sway you.\n"
        "Reply in exactly this form:\n"
        "Best: <one letter of {letters}>\nReason: <one or two sentences>\nConfidence: <1 to 5>"
    ),
}
DEFAULT_RUBRIC = "pairwise-v1"
# Sent by name (annotation/tasks.py registers them): nothing imports tasks back.
JUDGE_COMPARISON = "annotation.judge_comparison"
TRAIN_REWARD_JUDGE = "annotation.train_reward_judge"
JUDGE_PARAMS = {"max_new_tokens": 96, "temperature": 0}
FLIP_TAG = "position-flip"
CONSISTENT_TAG = "position-consistent"
ORDER_FREE_TAG = "order-independent"
UNPARSED_TAG = "unparsed-verdict"


class JudgeError(ValueError):
    """This comparison cannot be judged (yet), or the endpoint is not a judge; the sentence says why."""


def letters(k):
    return [chr(ord("A") + i) for i in range(k)]


def rotations(k):
    """Every cyclic order of k positions: each answer is shown in each place once."""
    return [[(start + i) % k for i in range(k)] for start in range(k)]


def judge_version(endpoint):
    """What identifies this judge's verdicts: rubric and confidence mode, or the trained head."""
    judge_settings = endpoint.judge_settings or {}
    if endpoint.judge_method == ModelEndpoint.JudgeMethod.REWARD_MODEL:
        return f"reward-bt/{judge_settings.get('trained_id', 'v1')}"[:64]
    rubric = judge_settings.get("rubric", DEFAULT_RUBRIC)
    return f"{rubric}+{judge_settings.get('confidence', 'verbal')}"[:64]


def render_rubric(rubric, prompt_text, answers_in_order):
    labels = letters(len(answers_in_order))
    answers = "\n\n".join(
        f"[Answer {label}]\n{text}\n[End of answer {label}]" for label, text in zip(labels, answers_in_order)
    )
    return RUBRICS[rubric].format(prompt=prompt_text, answers=answers, letters=", ".join(labels))


_BEST = re.compile(r"best\W{0,3}(?:answer\W{0,3})?(?:is\W{0,3})?\**\s*\(?([A-Z])\b", re.IGNORECASE)
_CONFIDENCE = re.compile(r"confidence\W{0,3}([1-5])\b", re.IGNORECASE)
_REASON = re.compile(r"reason\W{0,3}(.+)", re.IGNORECASE)


def parse_verdict(text, k):
    """(shown index or None, confidence 1–5 or None, reason) from the judge's reply."""
    valid = letters(k)
    pick = None
    match = _BEST.search(text)
    if match and match.group(1).upper() in valid:
        pick = valid.index(match.group(1).upper())
    else:
        found = re.findall(r"\b(?:answer\s+)?([A-Z])\b", text)
        found = [f for f in found if f in valid]
        if found:
            pick = valid.index(found[0])
    confidence = _CONFIDENCE.search(text)
    reason = _REASON.search(text)
    return (
        pick,
        int(confidence.group(1)) if confidence else None,
        (reason.group(1).strip() if reason else text.strip())[:1000],
    )


def _ranking_from_scores(scores, tolerance=1e-9):
    """Tie groups of positions, best first, from a score per position."""
    order = sorted(range(len(scores)), key=lambda p: -scores[p])
    groups = []
    for position in order:
        if groups and abs(scores[groups[-1][0]] - scores[position]) <= tolerance:
            groups[-1].append(position)
        else:
            groups.append([position])
    return groups


def llm_verdict(endpoint, comparison):
    """Judge every rotation; returns the fields of the Judgment to record."""
    judge_settings = endpoint.judge_settings or {}
    rubric = judge_settings.get("rubric", DEFAULT_RUBRIC)
    if rubric not in RUBRICS:
        raise JudgeError(
            f"Unknown rubric {rubric!r} on judge {endpoint.name}; rubrics: {', '.join(RUBRICS)}."
        )
    mode = judge_settings.get("confidence", "verbal")
    params = {**JUDGE_PARAMS, **(judge_settings.get("params") or {})}
    slots = list(comparison.slots.select_related("response").order_by("position"))
    k = len(slots)
    texts = [slot.response.text for slot in slots]
    prompt_text = comparison.prompt.last_user_text
    backend = backend_for(endpoint)
    labels = letters(k)
    scores = [0.0] * k
    picks, confidences, notes = [], [], []
    for order in rotations(k):
        conversation = [
            {"role": "user", "content": render_rubric(rubric, prompt_text, [texts[p] for p in order])}
        ]
        shown = " ".join(labels[p] for p in order)
        if mode == "likelihood":
            logps = backend.score_choices(endpoint.path, conversation, [f"Best: {x}" for x in labels], params)
            top = max(logps)
            probs = [math.exp(lp - top) for lp in logps]
            total = sum(probs)
            probs = [p / total for p in probs]
            best_shown = max(range(k), key=lambda i: probs[i])
            for i, position in enumerate(order):
                scores[position] += probs[i]
            picks.append(order[best_shown])
            confidences.append(probs[best_shown])
            notes.append(
                f"Shown as {shown}: P(best) "
                + ", ".join(f"{labels[order[i]]} {probs[i]:.2f}" for i in range(k))
            )
        else:
            reply = backend.generate(endpoint.path, conversation, params).text
            pick, confidence, reason = parse_verdict(reply, k)
            if pick is None:
                picks.append(None)
                notes.append(f"Shown as {shown}: no verdict could be read from {reply[:200]!r}")
                continue
            scores[order[pick]] += 1
            picks.append(order[pick])
            if confidence is not None:
                confidences.append(confidence)
            notes.append(f"Shown as {shown}: chose {labels[order[pick]]}. {reason}")
    read = [p for p in picks if p is not None]
    consistent = bool(read) and len(read) == len(picks) and len(set(read)) == 1
    tags = [CONSISTENT_TAG if consistent else FLIP_TAG] + ([UNPARSED_TAG] if len(read) < len(picks) else [])
    if k == 2 and not consistent:
        ranking = [[0, 1]]  # the verdict followed the order, not the answers: a tie
    else:
        ranking = _ranking_from_scores(scores)
    if mode == "likelihood":
        # Mean probability of the chosen letter, from chance (1) to certain (5).
        mean = sum(confidences) / len(confidences)
        confidence = round(1 + 4 * max(0.0, (mean - 1 / k) / (1 - 1 / k)))
    else:
        confidence = round(sum(confidences) / len(confidences)) if confidences else None
    if not consistent and confidence is not None:
        confidence = 1
    return {"ranking": ranking, "confidence": confidence, "reason_tags": tags, "rationale": "\n".join(notes)}


def reward_verdict(endpoint, comparison):
    slots = list(comparison.slots.select_related("response").order_by("position"))
    backend = backend_for(endpoint)
    scores = backend.score_answers(
        endpoint.path, comparison.prompt.conversation, [s.response.text for s in slots]
    )
    ranking = _ranking_from_scores(scores, tolerance=1e-6)
    ordered = sorted(scores, reverse=True)
    margin = ordered[0] - ordered[1]
    probability = 1 / (1 + math.exp(-margin))  # Bradley–Terry: P(best beats the runner-up)
    labels = letters(len(slots))
    return {
        "ranking": ranking,
        "confidence": round(1 + 4 * (probability - 0.5) / 0.5),
        "reason_tags": [ORDER_FREE_TAG],
        "rationale": "Reward scores: " + ", ".join(f"{labels[i]} {s:+.3f}" for i, s in enumerate(scores)),
    }


def judge_comparison(comparison, endpoint):
    """The endpoint's Judgment on the comparison; idempotent (an existing verdict is returned as is)."""
    if not endpoint.judge_method:
        raise JudgeError(f"{endpoint.name} is not a judge: set its judge method in the admin first.")
    version = judge_version(endpoint)
    existing = Judgment.objects.filter(
        comparison=comparison, judge=endpoint, judge_prompt_version=version
    ).first()
    if existing:
        return existing, False
    unfinished = comparison.slots.exclude(response__status="done").count()
    if unfinished:
        raise JudgeError(
            f"Comparison {comparison.pk} has {unfinished} answer(s) not finished; judge it once all are done."
        )
    started = time.monotonic()
    if endpoint.judge_method == ModelEndpoint.JudgeMethod.REWARD_MODEL:
        verdict = reward_verdict(endpoint, comparison)
    else:
        verdict = llm_verdict(endpoint, comparison)
    return record_judgment(
        comparison,
        verdict["ranking"],
        judge=endpoint,
        judge_prompt_version=version,
        identities_hidden=True,
        rationale=verdict["rationale"],
        confidence=verdict["confidence"],
        reason_tags=verdict["reason_tags"],
        time_spent_ms=int((time.monotonic() - started) * 1000),
    )


def queue_reward_training(name: str = "reward-minilm") -> None:
    """Queue the reward-model judge's training on the inference workers, after commit."""
    transaction.on_commit(lambda: enqueue(TRAIN_REWARD_JUDGE, name))


def queue_judging(comparisons: Iterable[Comparison], judges: Iterable[ModelEndpoint]) -> int:
    """Queue each judge on each comparison (after commit); returns how many tasks. Each is recorded
    as a JudgingTask, so the sweeper can queue it again if its worker dies."""
    judges = list(judges)
    pairs = [(comparison.pk, judge.pk) for comparison in comparisons for judge in judges]
    JudgingTask.objects.bulk_create(
        [JudgingTask(comparison_id=c, judge_id=j) for c, j in pairs], ignore_conflicts=True
    )
    for c, j in pairs:
        transaction.on_commit(functools.partial(enqueue, JUDGE_COMPARISON, c, j))
    return len(pairs)


def claim_judging(comparison_id, judge_id):
    """Claim the judging for this worker: the attempt number, None when no record asks for it (an
    old message; judge anyway: the verdict is idempotent), or False when a live worker holds it."""
    claimed = _claimable(comparison_id, judge_id).filter(
        Q(status=JudgingTask.Status.PENDING) | Q(heartbeat_at__lt=stale_before())
    )
    if claimed.update(
        status=JudgingTask.Status.RUNNING, attempts=F("attempts") + 1, heartbeat_at=timezone.now()
    ):
        return _claimable(comparison_id, judge_id).values_list("attempts", flat=True).first()
    return False if _claimable(comparison_id, judge_id).exists() else None


def _claimable(comparison_id, judge_id):
    return JudgingTask.objects.filter(comparison_id=comparison_id, judge_id=judge_id)


def judging_heartbeat(comparison_id, judge_id, attempt):
    """A Heartbeat stamping this attempt's claim while it judges (no-op without a claim)."""

    def stamp():
        if attempt:
            _claimable(comparison_id, judge_id).filter(attempts=attempt).update(heartbeat_at=timezone.now())

    return Heartbeat(stamp)


def judging_deferred(comparison_id, judge_id):
    """The task steps aside for a while (a voter waits for a live answer): its pending record is
    stamped, so the sweeper does not take it for lost and queue a second copy."""
    _claimable(comparison_id, judge_id).filter(status=JudgingTask.Status.PENDING).update(
        heartbeat_at=timezone.now()
    )


def finish_judging(comparison_id, judge_id):
    """The verdict (or a refusal) is stored: the judging is no longer in flight."""
    _claimable(comparison_id, judge_id).delete()


def requeue_stranded_judging():
    """The sweeper's part for AI judges (beat, every SWEEP_STRANDED_SECONDS). Judging whose worker
    stopped stamping it goes back to pending and is queued again; pending judging with no sign of
    life for INFERENCE_REQUEUE_PENDING_SECONDS (its message lost with a worker or a broker restart)
    is queued again. A late copy finds it claimed by a live worker, or its verdict stored, and does
    nothing; two copies that both judge still store one verdict (the Judgment constraint).
    Returns the (comparison id, judge id) pairs queued."""
    now = timezone.now()
    stale = list(
        JudgingTask.objects.filter(
            status=JudgingTask.Status.RUNNING, heartbeat_at__lt=stale_before()
        ).values_list("pk", "attempts")[:1000]
    )
    dead = [
        pk
        for pk, attempt in stale
        if JudgingTask.objects.filter(pk=pk, attempts=attempt, status=JudgingTask.Status.RUNNING).update(
            status=JudgingTask.Status.PENDING, heartbeat_at=now
        )
    ]
    forgotten = JudgingTask.objects.filter(
        status=JudgingTask.Status.PENDING,
        heartbeat_at__lt=now - timedelta(seconds=settings.INFERENCE_REQUEUE_PENDING_SECONDS),
    )
    waiting = list(forgotten.values_list("pk", flat=True)[:1000])
    JudgingTask.objects.filter(pk__in=waiting).update(heartbeat_at=now)
    pairs = list(
        JudgingTask.objects.filter(pk__in=[*dead, *waiting]).values_list("comparison_id", "judge_id")
    )
    if dead:
        log.warning("re-queued %d AI judgings whose worker died", len(dead))
    for comparison_id, judge_id in pairs:
        enqueue(JUDGE_COMPARISON, comparison_id, judge_id)
    return pairs


def active_judges():
    return ModelEndpoint.objects.exclude(judge_method="").filter(enabled=True)


# -- the reward-model judge's trainer ------------------------------------------------------------


def human_preference_pairs():
    """(prompt id, prompt text, chosen text, rejected text) from every human judgment with a winner:
    each answer ranked above another gives one pair. "None acceptable" votes give none."""
    judgments = (
        Judgment.objects.filter(source=Judgment.Source.HUMAN, none_acceptable=False)
        .select_related("comparison__prompt")
        .prefetch_related("comparison__slots__response")
        .order_by("pk")
    )
    pairs = []
    for judgment in judgments.iterator(chunk_size=500):
        texts = {slot.position: slot.response.text for slot in judgment.comparison.slots.all()}
        prompt = judgment.comparison.prompt
        for i, better in enumerate(judgment.ranking):
            for worse in judgment.ranking[i + 1 :]:
                for b in better:
                    for w in worse:
                        if texts[b] != texts[w]:
                            pairs.append((prompt.pk, prompt.last_user_text, texts[b], texts[w]))
    return pairs


def train_reward_judge(name="reward-minilm", heldout_fraction=0.2, out_dir=None, seed=0, steps=300):
    """Fit a Bradley–Terry head on all-MiniLM-L6-v2 from the platform's human judgments and
    register it as a reward-model judge. Held out by prompt (a prompt's pairs are all on one side).

    Returns (endpoint, report with held-out pairwise accuracy)."""
    pairs = human_preference_pairs()
    if len(pairs) < 10:
        raise JudgeError(
            f"Only {len(pairs)} preference pairs from human judgments; at least 10 are needed to train."
        )

    def held(prompt_id):
        return (zlib.crc32(f"{seed}:{prompt_id}".encode()) % 1000) < heldout_fraction * 1000

    train = [(p, c, r) for pid, p, c, r in pairs if not held(pid)]
    heldout = [(p, c, r) for pid, p, c, r in pairs if held(pid)]
    started = time.monotonic()
    weights, report = train_bradley_terry(train, heldout, seed=seed, steps=steps)
    report["train_seconds"] = round(time.monotonic() - started, 1)
    trained_id = timezone.now().strftime("%Y%m%d%H%M%S")
    out_dir = Path(out_dir or Path(settings.MODELS_DIR) / f"{name}-{trained_id}")
    save_reward_model(out_dir, weights, report, extra={"trained_id": trained_id})
    endpoint, _ = ModelEndpoint.objects.update_or_create(
        name=name,
        defaults={
            "display_name": f"Reward model {name}",
            "backend": ModelEndpoint.Backend.REWARD_MODEL,
            "path": str(out_dir),
            "judge_method": ModelEndpoint.JudgeMethod.REWARD_MODEL,
            "judge_settings": {"trained_id": trained_id, "training_report": report},
            "license": "Apache-2.0 (all-MiniLM-L6-v2) + head trained on this platform's judgments",
        },
    )
    return endpoint, report
