"""Rubrics: what a campaign asks, as a validated spec, and the check of a submission against it.

A spec is a dict:

    ties_allowed      bool                      overall ranking may have tie groups
    strength          {"labels": [...]} | None  how much better the first choice is than the second: asked
                                                when one response stands alone in first place (K=2: not a
                                                tie); 1 = labels[0] (weakest) … n
    aspects           [{"key", "label", "kind": "rating"|"ranking", "min", "max", "labels",
                        "strength", "confidence", "reason_tags", "rationale"}]
                      the last four are per-aspect follow-ups (MultiPref asks them per aspect), all optional:
                      strength {"labels"} (ranking aspects, first choice alone in first place), confidence {"labels"},
                      reason_tags [str, ...], rationale "required"|"optional"|"off" (default off).
                      The answers are stored inside Judgment.aspects[key] next to the ranking/ratings.
    confidence        {"labels": [...]} | None  1 = labels[0] … n
    reason_tags       [str, ...]                a checklist the annotator may tick
    rationale         "required"|"optional"|"off"
    rationale_min_length  int
    none_acceptable   bool                      offer "none of these is acceptable"
    edit_box          bool                      offer a box to write a better answer
"""

import copy
from typing import Any

from .rankings import validate_ranking

DEFAULT_SPEC: dict[str, Any] = {
    "ties_allowed": True,
    "strength": None,
    "aspects": [],
    "confidence": None,
    "reason_tags": [],
    "rationale": "optional",
    "rationale_min_length": 0,
    "none_acceptable": True,
    "edit_box": False,
}

TEMPLATES = {
    "simple": {
        "description": "Overall ranking with ties and an optional reason.",
        "spec": {**DEFAULT_SPEC},
    },
    "multipref_per_aspect": {
        "description": "MultiPref-style with the follow-ups asked per aspect: overall and helpfulness, truthfulness, "
        "harmlessness preferences, each with its own strength (slightly/clearly), 3-point confidence, reason "
        "checklist and optional free-text reason.",
        "spec": {
            **DEFAULT_SPEC,
            "strength": {"labels": ["slightly better", "clearly better"]},
            "aspects": [
                {
                    "key": key,
                    "label": label,
                    "kind": "ranking",
                    "strength": {"labels": ["slightly better", "clearly better"]},
                    "confidence": {"labels": ["not confident", "fairly confident", "absolutely confident"]},
                    "reason_tags": tags,
                    "rationale": "optional",
                }
                for key, label, tags in (
                    (
                        "helpful",
                        "Helpfulness",
                        ["follows instructions", "more complete", "clearer", "more concise"],
                    ),
                    (
                        "truthful",
                        "Truthfulness",
                        ["more accurate", "fewer made-up facts", "admits uncertainty"],
                    ),
                    ("harmless", "Harmlessness", ["safer", "less offensive", "refuses appropriately"]),
                )
            ],
            "confidence": {"labels": ["not confident", "fairly confident", "absolutely confident"]},
        },
    },
    "multipref": {
        "description": "MultiPref-style: overall preference with strength (slightly/clearly), helpfulness, "
        "truthfulness and harmlessness rankings, 3-point confidence, reason checklist and a free-text reason.",
        "spec": {
            **DEFAULT_SPEC,
            "strength": {"labels": ["slightly better", "clearly better"]},
            "aspects": [
                {"key": "helpful", "label": "Helpfulness", "kind": "ranking"},
                {"key": "truthful", "label": "Truthfulness", "kind": "ranking"},
                {"key": "harmless", "label": "Harmlessness", "kind": "ranking"},
            ],
            "confidence": {"labels": ["not confident", "fairly confident", "absolutely confident"]},
            "reason_tags": [
                "follows instructions",
                "more accurate",
                "more complete",
                "clearer",
                "safer",
                "better formatted",
                "more concise",
            ],
            "rationale": "optional",
        },
    },
    "helpsteer2": {
        "description": "HelpSteer2-style: each response rated 0–4 on helpfulness, correctness, coherence, "
        "complexity and verbosity, plus the overall ranking.",
        "spec": {
            **DEFAULT_SPEC,
            "aspects": [
                {"key": key, "label": key.title(), "kind": "rating", "min": 0, "max": 4}
                for key in ("helpfulness", "correctness", "coherence", "complexity", "verbosity")
            ],
        },
    },
}


class SubmissionInvalid(ValueError):
    """A submission that does not fit the rubric; the message says what to fix."""


def template_spec(name):
    if name not in TEMPLATES:
        raise ValueError(
            f"There is no rubric template called {name!r}; choose one of {', '.join(TEMPLATES)}."
        )
    return copy.deepcopy(TEMPLATES[name]["spec"])


def _labels(value, what):
    if value is None:
        return None
    if (
        not isinstance(value, dict)
        or not isinstance(value.get("labels"), list)
        or not 2 <= len(value["labels"]) <= 7
    ):
        raise ValueError(f"{what} must be null or {{\"labels\": [...]}} with 2 to 7 labels.")
    if not all(isinstance(label, str) and label.strip() for label in value["labels"]):
        raise ValueError(f"Every {what} label must be a non-empty text.")
    return {"labels": [label.strip() for label in value["labels"]]}


def validate_spec(spec):
    """A complete, normalised spec, or ValueError with a sentence."""
    if not isinstance(spec, dict):
        raise ValueError("The rubric must be a JSON object.")
    unknown = sorted(set(spec) - set(DEFAULT_SPEC))
    if unknown:
        raise ValueError(f"The rubric has unknown settings: {', '.join(unknown)}.")
    out = {**copy.deepcopy(DEFAULT_SPEC), **copy.deepcopy(spec)}
    for flag in ("ties_allowed", "none_acceptable", "edit_box"):
        if not isinstance(out[flag], bool):
            raise ValueError(f"{flag} must be true or false.")
    out["strength"] = _labels(out["strength"], "strength")
    out["confidence"] = _labels(out["confidence"], "confidence")
    if out["rationale"] not in ("required", "optional", "off"):
        raise ValueError('rationale must be "required", "optional" or "off".')
    minimum = out["rationale_min_length"]
    if isinstance(minimum, bool) or not isinstance(minimum, int) or not 0 <= minimum <= 5000:
        raise ValueError("rationale_min_length must be a whole number from 0 to 5000.")
    tags = out["reason_tags"]
    if (
        not isinstance(tags, list)
        or not all(isinstance(t, str) and t.strip() for t in tags)
        or len(set(tags)) != len(tags)
    ):
        raise ValueError("reason_tags must be a list of distinct, non-empty texts.")
    if not isinstance(out["aspects"], list):
        raise ValueError("aspects must be a list.")
    keys = set()
    aspects = []
    for aspect in out["aspects"]:
        if (
            not isinstance(aspect, dict)
            or not isinstance(aspect.get("key"), str)
            or not aspect["key"].isidentifier()
        ):
            raise ValueError(
                "Each aspect needs a key made of letters, digits and underscores, e.g. \"helpful\"."
            )
        key = aspect["key"]
        if key in keys or key == "overall":
            raise ValueError(f"The aspect key {key!r} is used twice (or is the reserved word overall).")
        keys.add(key)
        kind = aspect.get("kind", "rating")
        if kind not in ("rating", "ranking"):
            raise ValueError(f"Aspect {key!r}: kind must be \"rating\" or \"ranking\".")
        clean = {"key": key, "label": str(aspect.get("label") or key.replace("_", " ").title()), "kind": kind}
        if kind == "rating":
            low, high = aspect.get("min", 1), aspect.get("max", 5)
            if (
                any(isinstance(v, bool) or not isinstance(v, int) for v in (low, high))
                or not low < high
                or high - low > 10
            ):
                raise ValueError(
                    f"Aspect {key!r}: min and max must be whole numbers with min < max, at most 10 apart."
                )
            clean.update(min=low, max=high)
            labels = aspect.get("labels")
            if labels is not None:
                if not isinstance(labels, list) or len(labels) != high - low + 1:
                    raise ValueError(f"Aspect {key!r}: give one label per scale point ({high - low + 1}).")
                clean["labels"] = [str(x) for x in labels]
        clean.update(_aspect_follow_ups(aspect, key, kind))
        aspects.append(clean)
    out["aspects"] = aspects
    return out


ASPECT_SETTINGS = {
    "key",
    "label",
    "kind",
    "min",
    "max",
    "labels",
    "strength",
    "confidence",
    "reason_tags",
    "rationale",
}


def _aspect_follow_ups(aspect, key, kind):
    """The per-aspect strength / confidence / reason tags / rationale an aspect asks for (only those set)."""
    unknown = sorted(set(aspect) - ASPECT_SETTINGS)
    if unknown:
        raise ValueError(f"Aspect {key!r} has unknown settings: {', '.join(unknown)}.")
    out = {}
    strength = _labels(aspect.get("strength"), f"Aspect {key!r}: strength")
    if strength:
        if kind != "ranking":
            raise ValueError(
                f"Aspect {key!r}: strength only fits a ranking aspect (how much better one response is)."
            )
        out["strength"] = strength
    confidence = _labels(aspect.get("confidence"), f"Aspect {key!r}: confidence")
    if confidence:
        out["confidence"] = confidence
    tags = aspect.get("reason_tags")
    if tags not in (None, []):
        if (
            not isinstance(tags, list)
            or not all(isinstance(t, str) and t.strip() for t in tags)
            or len(set(tags)) != len(tags)
        ):
            raise ValueError(f"Aspect {key!r}: reason_tags must be a list of distinct, non-empty texts.")
        out["reason_tags"] = [t.strip() for t in tags]
    rationale = aspect.get("rationale", "off")
    if rationale not in ("required", "optional", "off"):
        raise ValueError(f'Aspect {key!r}: rationale must be "required", "optional" or "off".')
    if rationale != "off":
        out["rationale"] = rationale
    return out


def _follow_up_answers(aspect, value, k, groups):
    """Check one aspect's follow-up answers; return them as stored (only the ones the aspect asks for)."""
    label = aspect["label"]
    out = {}
    strength = _optional_int(value.get("strength"), f"The {label} strength")
    if aspect.get("strength") and groups is not None and _has_clear_first(groups):
        n = len(aspect["strength"]["labels"])
        if strength is None:
            raise SubmissionInvalid(f"Say how much better the preferred response is on {label}.")
        if not 1 <= strength <= n:
            raise SubmissionInvalid(f"The {label} strength must be between 1 and {n}.")
        out["strength"] = strength
    elif strength is not None:
        raise SubmissionInvalid(
            f"{label}: strength only applies when one response is first on it, alone (not a tie)."
        )
    confidence = _optional_int(value.get("confidence"), f"The {label} confidence")
    if aspect.get("confidence"):
        n = len(aspect["confidence"]["labels"])
        if confidence is None:
            raise SubmissionInvalid(f"Say how confident you are about {label}.")
        if not 1 <= confidence <= n:
            raise SubmissionInvalid(f"The {label} confidence must be between 1 and {n}.")
        out["confidence"] = confidence
    elif confidence is not None:
        raise SubmissionInvalid(f"This rubric does not ask for confidence on {label}.")
    tags = value.get("reason_tags") or []
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise SubmissionInvalid(f"The {label} reasons must be a list of that aspect's reasons.")
    allowed = aspect.get("reason_tags") or []
    unknown = [t for t in tags if t not in allowed]
    if unknown:
        raise SubmissionInvalid(f"{unknown[0]!r} is not one of the reasons for {label}.")
    if allowed:
        out["reason_tags"] = [t for t in allowed if t in tags]
    rationale = value.get("rationale") or ""
    if not isinstance(rationale, str):
        raise SubmissionInvalid(f"The {label} reason must be text.")
    rationale = rationale.strip()
    wanted = aspect.get("rationale", "off")
    if wanted == "off" and rationale:
        raise SubmissionInvalid(f"This rubric does not ask for a written reason on {label}.")
    if wanted == "required" and not rationale:
        raise SubmissionInvalid(f"Write a reason for {label}: this rubric requires one.")
    if len(rationale) > 5000:
        raise SubmissionInvalid(f"Keep the {label} reason under 5000 characters.")
    if wanted != "off":
        out["rationale"] = rationale
    return out


def scale_points(aspect):
    labels = aspect.get("labels") or []
    return [
        {"value": v, "label": labels[i] if labels else str(v)}
        for i, v in enumerate(range(aspect["min"], aspect["max"] + 1))
    ]


def _has_clear_first(groups):
    """One response alone in first place, with others after it: then "how much better than the second?"
    has an answer (for K=2, any preference that is not a tie)."""
    return len(groups) >= 2 and len(groups[0]) == 1


def _optional_int(value, what):
    if value in (None, ""):
        return None
    try:
        if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
            raise TypeError
        return int(value)
    except (TypeError, ValueError):
        raise SubmissionInvalid(f"{what} must be a whole number, not {value!r}.") from None


def _in_screen_ranking(ranking, k, what):
    try:
        return validate_ranking(ranking, k)
    except ValueError as exc:
        raise SubmissionInvalid(f"{what}: {exc}") from None


def check_submission(spec, k, payload, display_order):
    """Validate a submission (made in screen slots) against the rubric; return Judgment/Assignment fields
    with every position translated to comparison positions.

    payload keys: ranking, strength, confidence, aspects {key: {"ranking": …} | {"ratings": [per slot]}},
    reason_tags, rationale, none_acceptable, edited_answer."""
    if not isinstance(payload, dict):
        raise SubmissionInvalid("The submission must be a JSON object.")

    def to_positions(groups):
        return [sorted(display_order[slot] for slot in group) for group in groups]

    ranking = _in_screen_ranking(payload.get("ranking"), k, "The overall ranking")
    if not spec["ties_allowed"] and any(len(group) > 1 for group in ranking):
        raise SubmissionInvalid("This rubric does not allow ties: put every response in its own place.")

    strength = _optional_int(payload.get("strength"), "Strength")
    if spec["strength"] and _has_clear_first(ranking):
        n = len(spec["strength"]["labels"])
        if strength is None:
            raise SubmissionInvalid("Say how much better the preferred response is.")
        if not 1 <= strength <= n:
            raise SubmissionInvalid(f"Strength must be between 1 and {n}.")
    elif strength is not None:
        raise SubmissionInvalid("Strength only applies when one response is first, alone (not a tie).")

    confidence = _optional_int(payload.get("confidence"), "Confidence")
    if spec["confidence"]:
        n = len(spec["confidence"]["labels"])
        if confidence is None:
            raise SubmissionInvalid("Say how confident you are.")
        if not 1 <= confidence <= n:
            raise SubmissionInvalid(f"Confidence must be between 1 and {n}.")
    elif confidence is not None:
        raise SubmissionInvalid("This rubric does not ask for confidence.")

    given = payload.get("aspects") or {}
    if not isinstance(given, dict):
        raise SubmissionInvalid("aspects must be an object keyed by aspect.")
    known = {a["key"] for a in spec["aspects"]}
    extra = sorted(set(given) - known)
    if extra:
        raise SubmissionInvalid(f"This rubric has no aspect called {extra[0]!r}.")
    aspects = {}
    for aspect in spec["aspects"]:
        key, value = aspect["key"], given.get(aspect["key"])
        if not isinstance(value, dict):
            raise SubmissionInvalid(f"Answer the aspect {aspect['label']}.")
        if aspect["kind"] == "ranking":
            groups = _in_screen_ranking(value.get("ranking"), k, f"The {aspect['label']} ranking")
            if not spec["ties_allowed"] and any(len(g) > 1 for g in groups):
                raise SubmissionInvalid(f"This rubric does not allow ties ({aspect['label']}).")
            aspects[key] = {
                "kind": "ranking",
                "ranking": to_positions(groups),
                **_follow_up_answers(aspect, value, k, groups),
            }
        else:
            ratings = value.get("ratings")
            if not isinstance(ratings, list) or len(ratings) != k:
                raise SubmissionInvalid(f"Rate every response on {aspect['label']}.")
            by_position = [None] * k
            for slot, rating in enumerate(ratings):
                number = _optional_int(rating, f"The {aspect['label']} rating")
                if number is None:
                    raise SubmissionInvalid(f"Rate every response on {aspect['label']}.")
                if not aspect["min"] <= number <= aspect["max"]:
                    raise SubmissionInvalid(
                        f"The {aspect['label']} rating {number} is outside the scale {aspect['min']}–{aspect['max']}."
                    )
                by_position[display_order[slot]] = number
            aspects[key] = {
                "kind": "rating",
                "ratings": by_position,
                **_follow_up_answers(aspect, value, k, None),
            }

    tags = payload.get("reason_tags") or []
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise SubmissionInvalid("reason_tags must be a list of the rubric's reasons.")
    unknown = [t for t in tags if t not in spec["reason_tags"]]
    if unknown:
        raise SubmissionInvalid(f"{unknown[0]!r} is not one of this rubric's reasons.")
    tags = [t for t in spec["reason_tags"] if t in tags]

    rationale = payload.get("rationale") or ""
    if not isinstance(rationale, str):
        raise SubmissionInvalid("The rationale must be text.")
    rationale = rationale.strip()
    if spec["rationale"] == "off" and rationale:
        raise SubmissionInvalid("This rubric does not ask for a rationale.")
    if spec["rationale"] == "required" and not rationale:
        raise SubmissionInvalid("Write a rationale: this rubric requires one.")
    if rationale and len(rationale) < spec["rationale_min_length"]:
        raise SubmissionInvalid(
            f"The rationale is {len(rationale)} characters; write at least {spec['rationale_min_length']}."
        )

    none_acceptable = payload.get("none_acceptable", False)
    if isinstance(none_acceptable, str):
        none_acceptable = none_acceptable.lower() in ("1", "true", "on", "yes")
    if not isinstance(none_acceptable, bool):
        raise SubmissionInvalid("none_acceptable must be true or false.")
    if none_acceptable and not spec["none_acceptable"]:
        raise SubmissionInvalid("This rubric does not offer \"none acceptable\".")

    edited = payload.get("edited_answer") or ""
    if not isinstance(edited, str):
        raise SubmissionInvalid("The edited answer must be text.")
    if edited.strip() and not spec["edit_box"]:
        raise SubmissionInvalid("This rubric does not ask for an edited answer.")

    return {
        "ranking": to_positions(ranking),
        "strength": strength,
        "confidence": confidence,
        "aspects": aspects,
        "reason_tags": tags,
        "rationale": rationale,
        "none_acceptable": none_acceptable,
    }, edited.strip()
