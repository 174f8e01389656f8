"""Rows in Hugging Face TRL's dataset formats, plus provenance columns that trainers ignore.

Field names follow TRL's dataset formats so a trainer loads a file with no glue:
``dpo`` (standard preference), ``dpo-chat`` (conversational preference),
``reward`` (conversational preference with an implicit prompt), ``kto``
(conversational unpaired preference), and two of our own: ``listwise`` (responses
in ranked order, tie groups kept as equal ranks) and ``ratings`` (one row per
response, HelpSteer2-style scores)."""

import hashlib
import hmac
from functools import lru_cache

import numpy as np
import pyarrow as pa
from django.conf import settings

from .arrays import by_distinct, one_each, tags

MESSAGE = pa.struct([("role", pa.string()), ("content", pa.string())])
MESSAGES = pa.list_(MESSAGE)
ASPECT_SCORE = pa.struct([("aspect", pa.string()), ("score", pa.float64())])

PROVENANCE = [
    ("comparison_id", pa.int64()),
    ("prompt_id", pa.int64()),
    ("judgment_ids", pa.list_(pa.int64())),
    ("source", pa.string()),
    ("annotators", pa.list_(pa.string())),
    ("judges", pa.list_(pa.string())),
    ("n_judgments", pa.int64()),
    ("agreement", pa.float64()),
    ("strength", pa.float64()),
    ("confidence", pa.float64()),
    ("none_acceptable", pa.bool_()),
    ("identities_hidden", pa.bool_()),
    ("rationale", pa.string()),
    ("reason_tags", pa.list_(pa.string())),
    ("rubric_version", pa.string()),
    ("judged_at", pa.string()),
    ("comparison_created_at", pa.string()),
    # True when a guest (a session-bound arena voter without an account) wrote a judgment of the row.
    ("guest", pa.bool_()),
]
PAIR_PROVENANCE = [
    ("chosen_model", pa.string()),
    ("rejected_model", pa.string()),
    ("chosen_position", pa.int64()),
    ("rejected_position", pa.int64()),
    ("tie", pa.bool_()),
]
CORE = {
    "dpo": [("prompt", pa.string()), ("chosen", pa.string()), ("rejected", pa.string())],
    "dpo-chat": [("prompt", MESSAGES), ("chosen", MESSAGES), ("rejected", MESSAGES)],
    "reward": [("chosen", MESSAGES), ("rejected", MESSAGES)],
    "kto": [("prompt", MESSAGES), ("completion", MESSAGES), ("label", pa.bool_())],
    "listwise": [("prompt", MESSAGES), ("responses", pa.list_(pa.string())), ("ranks", pa.list_(pa.int64()))],
    "ratings": [
        ("prompt", MESSAGES),
        ("response", pa.string()),
        ("rank", pa.int64()),
        ("rank_score", pa.float64()),
        ("aspect_scores", pa.list_(ASPECT_SCORE)),
    ],
}
EXTRA = {
    "dpo": PAIR_PROVENANCE,
    "dpo-chat": PAIR_PROVENANCE,
    "reward": PAIR_PROVENANCE,
    "kto": [("model", pa.string()), ("position", pa.int64()), ("tie", pa.bool_())],
    "listwise": [("models", pa.list_(pa.string())), ("positions", pa.list_(pa.int64()))],
    "ratings": [("model", pa.string()), ("position", pa.int64())],
}


# Routed exports (--source routed) say why each row carries a human or an AI label.
ROUTING_PROVENANCE = [("routing_policy", pa.string()), ("routing_reason", pa.string())]


def arrow_schema(options):
    fields = list(CORE[options.format])
    if options.has_margin:
        fields.append(("margin", pa.float64()))
    routing = ROUTING_PROVENANCE if options.source == "routed" else []
    return pa.schema(fields + EXTRA[options.format] + PROVENANCE + routing)


def routing_provenance(routing, source):
    """The routing columns of a routed row, from the comparison's routing decision (destination,
    reason, policy) or None: the policy, and the router's sentence (with a note when the item was
    sent to people who have not labelled it yet, so the AI label stands)."""
    if routing is None:
        return {}
    destination, reason, policy = routing
    if destination == "human" and source == "ai":
        reason = "Sent to people, who have not labelled it yet, so the AI judges' label stands. " + reason
    return {"routing_policy": policy, "routing_reason": reason}


def judge_label(name, version):
    return f"{name}@{version}" if version else name


@lru_cache(maxsize=65536)
def annotator_pseudonym(user_id):
    """Stable across exports, not the username, and not reversible without SECRET_KEY."""
    digest = hmac.new(settings.SECRET_KEY.encode(), f"prefarena-annotator:{user_id}".encode(), hashlib.sha256)
    return "ann-" + digest.hexdigest()[:16]


def messages(conversation):
    return [
        {"role": str(t.get("role", "")), "content": str(t.get("content", ""))} for t in conversation or []
    ]


def prompt_text(conversation):
    """The standard (string) prompt: the one turn's text, or the turns labelled by role.
    Multi-turn prompts keep their structure in the conversational formats."""
    turns = messages(conversation)
    if len(turns) == 1:
        return turns[0]["content"]
    return "\n\n".join(f"{t['role'].capitalize()}: {t['content']}" for t in turns)


def assistant(text):
    return [{"role": "assistant", "content": text}]


def _mean(values):
    values = [v for v in values if v is not None]
    return sum(values) / len(values) if values else None


def provenance(group, judgments, agreement, none_acceptable):
    """The provenance columns for a Python row drawn from these judgments of one comparison
    (aggregation merges several; listwise and ratings rows have one). provenance_columns writes
    the same columns for a page of one-judgment rows at once.

    ``created_at`` of judgments and comparison are ISO 8601 texts in UTC."""
    sources = {j.source for j in judgments}
    columns = {
        "comparison_id": group.id,
        "prompt_id": group.prompt_id,
        "judgment_ids": [j.id for j in judgments],
        "source": sources.pop() if len(sources) == 1 else "mixed",
        "annotators": [annotator_pseudonym(j.annotator_id) for j in judgments if j.annotator_id is not None],
        "judges": [judge_label(j.judge_name, j.judge_prompt_version) for j in judgments if j.judge_name],
        "n_judgments": len(judgments),
        "agreement": round(agreement, 6),
        "strength": _mean(j.strength for j in judgments),
        "confidence": _mean(j.confidence for j in judgments),
        "none_acceptable": bool(none_acceptable),
        "identities_hidden": all(j.identities_hidden for j in judgments),
        "rationale": "\n---\n".join(j.rationale for j in judgments if j.rationale),
        "reason_tags": sorted({str(t) for j in judgments for t in (j.reason_tags or [])}),
        "rubric_version": ",".join(sorted({j.rubric_version for j in judgments if j.rubric_version})),
        # ISO texts of one format in UTC sort as the moments they name.
        "judged_at": max(j.created_at for j in judgments),
        "comparison_created_at": group.created_at,
        "guest": any(j.guest for j in judgments),
    }
    if group.routing is not None:
        columns.update(routing_provenance(group.routing, columns["source"]))
    return columns


def provenance_columns(judgments, rows, row_j, agreement, none_acceptable):
    """The provenance columns of rows that each come from one judgment, as Arrow arrays:
    ``judgments`` is a page's columns (annotation.judgment_pages), ``rows`` (an Arrow index array)
    and ``row_j`` (the same as numpy) each row's judgment; the values are provenance()'s."""

    def take(name):
        return judgments[name].take(rows)

    rounded = np.unique(agreement, return_inverse=True)
    return {
        "comparison_id": take("comparison_id"),
        "prompt_id": take("prompt_id"),
        "judgment_ids": one_each(take("id"), pa.int64()),
        "source": take("source"),
        "annotators": by_distinct(
            [judgments["annotator_id"]],
            row_j,
            lambda a: [] if a is None else [annotator_pseudonym(a)],
            pa.list_(pa.string()),
        ),
        "judges": by_distinct(
            [judgments["judge_name"], judgments["judge_prompt_version"]],
            row_j,
            lambda name, version: [judge_label(name, version)] if name else [],
            pa.list_(pa.string()),
        ),
        "n_judgments": pa.array(np.ones(len(row_j), dtype=np.int64)),
        "agreement": pa.array(
            np.array([round(v, 6) for v in rounded[0].tolist()], dtype=np.float64)[rounded[1].reshape(-1)]
        ),
        "strength": take("strength").cast(pa.float64()),
        "confidence": take("confidence").cast(pa.float64()),
        "none_acceptable": pa.array(none_acceptable),
        "identities_hidden": take("identities_hidden"),
        "rationale": take("rationale").fill_null(""),
        "reason_tags": by_distinct([judgments["reason_tags"]], row_j, tags, pa.list_(pa.string())),
        "rubric_version": take("rubric_version").fill_null(""),
        "judged_at": take("created_at"),
        "comparison_created_at": take("comparison_created_at"),
        "guest": take("guest").fill_null(False),
    }


def group_messages(group):
    """The comparison's prompt as messages, built once per comparison (rows share the list)."""
    value = group.cache.get("messages")
    if value is None:
        value = group.cache["messages"] = messages(group.conversation)
    return value


def group_prompt_text(group):
    value = group.cache.get("prompt_text")
    if value is None:
        value = group.cache["prompt_text"] = prompt_text(group.conversation)
    return value


def pair_rows(options, group, pair, margin, prov):
    """Rows for one preference pair (winner first; for a tie, the one shown first)."""
    chosen, rejected = group.shown[pair.a], group.shown[pair.b]
    fmt = options.format
    if fmt == "kto":
        conversation = group_messages(group)
        return [
            {
                "prompt": conversation,
                "completion": assistant(shown.text),
                "label": label,
                "model": shown.model,
                "position": position,
                "tie": pair.tie,
                **prov,
            }
            for shown, position, label in ((chosen, pair.a, True), (rejected, pair.b, False))
        ]
    if fmt == "dpo":
        row = {"prompt": group_prompt_text(group), "chosen": chosen.text, "rejected": rejected.text}
    elif fmt == "dpo-chat":
        # A multi-turn battle: the opening is the prompt; each side's answers and the follow-ups follow.
        turns = group.turns or {}
        row = {
            "prompt": group_messages(group),
            "chosen": turns.get(pair.a) or assistant(chosen.text),
            "rejected": turns.get(pair.b) or assistant(rejected.text),
        }
    else:  # reward: implicit prompt, the conversation is inside chosen and rejected
        conversation = group_messages(group)
        row = {
            "chosen": conversation + assistant(chosen.text),
            "rejected": conversation + assistant(rejected.text),
        }
    if options.has_margin:
        row["margin"] = float(margin)
    row.update(
        chosen_model=chosen.model,
        rejected_model=rejected.model,
        chosen_position=pair.a,
        rejected_position=pair.b,
        tie=pair.tie,
    )
    row.update(prov)
    return [row]


def negative_row(group, position, prov):
    """An unpaired KTO negative (a tied or "none acceptable" response, under kto-negative)."""
    shown = group.shown[position]
    return {
        "prompt": group_messages(group),
        "completion": assistant(shown.text),
        "label": False,
        "model": shown.model,
        "position": position,
        "tie": True,
        **prov,
    }


def listwise_row(group, ranking, prov):
    responses, ranks, models, positions = [], [], [], []
    for rank, tie_group in enumerate(ranking, start=1):
        for position in sorted(tie_group):
            shown = group.shown[position]
            responses.append(shown.text)
            ranks.append(rank)
            models.append(shown.model)
            positions.append(position)
    return {
        "prompt": group_messages(group),
        "responses": responses,
        "ranks": ranks,
        "models": models,
        "positions": positions,
        **prov,
    }


def rank_scores(ranking, k):
    """position -> score in [0, 1] from the ranking: 1 for the best tie group, 0 for the
    worst, tied positions sharing the mean of the places they span."""
    scores, place = {}, 0
    for tie_group in ranking:
        mean_place = place + (len(tie_group) - 1) / 2
        for position in tie_group:
            scores[position] = 1.0 - mean_place / (k - 1) if k > 1 else 1.0
        place += len(tie_group)
    return scores


def aspect_scores(aspects, position, k):
    """Per-aspect scores for one position. An aspect may hold Likert ratings (a list of
    K numbers by position, or a {"position": number} mapping) or a ranking (tie groups),
    which becomes rank scores in [0, 1]; campaigns store either inside
    {"kind": "rating", "ratings": [...]} / {"kind": "ranking", "ranking": [...]}, with
    follow-up answers beside it. Anything else is left out."""
    out = []
    for name in sorted(aspects or {}):
        value = aspects[name]
        if isinstance(value, dict) and value.get("kind") in ("rating", "ranking"):
            value = value.get("ratings") if value["kind"] == "rating" else value.get("ranking")
        score = None
        if isinstance(value, dict):
            score = value.get(str(position), value.get(position))
        elif (
            isinstance(value, list)
            and len(value) == k
            and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
        ):
            score = value[position]
        elif isinstance(value, list) and value and all(isinstance(g, list) for g in value):
            score = rank_scores(value, k).get(position)
        if isinstance(score, (int, float)) and not isinstance(score, bool):
            out.append({"aspect": str(name), "score": float(score)})
    return out


def rating_rows(group, judgment, ranking, prov, keep_position):
    k = len(group.shown)
    scores = rank_scores(ranking, k)
    rows = []
    for rank, tie_group in enumerate(ranking, start=1):
        for position in sorted(tie_group):
            if not keep_position(position):
                continue
            shown = group.shown[position]
            rows.append(
                {
                    "prompt": group_messages(group),
                    "response": shown.text,
                    "rank": rank,
                    "rank_score": round(scores[position], 6),
                    "aspect_scores": aspect_scores(judgment.aspects, position, k),
                    "model": shown.model,
                    "position": position,
                    **prov,
                }
            )
    return rows
