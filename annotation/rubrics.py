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
import functools
import json
from dataclasses import dataclass
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


@dataclass(frozen=True)
class RubricSpec:
    """A rubric spec, checked and normalised once (`parse_spec`); read by attribute, or by key like the
    stored dict (templates and older callers do). Treat it as read-only: parsed specs are shared."""

    ties_allowed: bool
    strength: dict | None
    aspects: tuple
    confidence: dict | None
    reason_tags: tuple
    rationale: str
    rationale_min_length: int
    none_acceptable: bool
    edit_box: bool

    def __getitem__(self, key):
        try:
            return getattr(self, key)
        except AttributeError:
            raise KeyError(key) from None

    def as_dict(self) -> dict:
        """The normalised spec as the JSON a Rubric stores (a fresh copy)."""
        out = {name: copy.deepcopy(getattr(self, name)) for name in DEFAULT_SPEC}
        out["aspects"], out["reason_tags"] = list(out["aspects"]), list(out["reason_tags"])
        return out


def parse_spec(spec: dict | RubricSpec) -> RubricSpec:
    """The spec checked and normalised, or ValueError with a sentence. Parsed once per distinct spec:
    a campaign's rubric is read on every request, and its checks cost more than a JSON dump."""
    if isinstance(spec, RubricSpec):
        return spec
    try:
        key = json.dumps(spec, sort_keys=True)
    except (TypeError, ValueError):
        return _parse(spec)  # not JSON: _parse names the problem
    return _parse_text(key)


@functools.lru_cache(maxsize=256)
def _parse_text(text):
    return _parse(json.loads(text))


def validate_spec(spec: dict | RubricSpec) -> dict:
    """A complete, normalised spec dict (what a Rubric stores), or ValueError with a sentence."""
    return parse_spec(spec).as_dict()


def _parse(spec):
    if not isinstance(spec, dict):
        raise ValueError("The rubric must be a JSON object.")
    unknown = sorted(set(spec) - set(DEFAULT_SPEC))
    if unknown:
        raise ValueError(f"The rubric has unknown settings: {', '.join(unknown)}.")
    out = {**copy.deepcopy(DEFAULT_SPEC), **copy.deepcopy(spec)}
    for flag in ("ties_allowed", "none_acceptable", "edit_box"):
        if not isinstance(out[flag], bool):
            raise ValueError(f"{flag} must be true or false.")
    strength = _labels(out["strength"], "strength")
    confidence = _labels(out["confidence"], "confidence")
    if out["rationale"] not in RATIONALE_CHOICES:
        raise ValueError('rationale must be "required", "optional" or "off".')
    minimum = out["rationale_min_length"]
    if isinstance(minimum, bool) or not isinstance(minimum, int) or not 0 <= minimum <= 5000:
        raise ValueError("rationale_min_length must be a whole number from 0 to 5000.")
    if not _distinct_texts(out["reason_tags"]):
        raise ValueError("reason_tags must be a list of distinct, non-empty texts.")
    if not isinstance(out["aspects"], list):
        raise ValueError("aspects must be a list.")
    keys = set()
    aspects = []
    for aspect in out["aspects"]:
        clean = _parse_aspect(aspect, keys)
        keys.add(clean["key"])
        aspects.append(clean)
    return RubricSpec(
        ties_allowed=out["ties_allowed"],
        strength=strength,
        aspects=tuple(aspects),
        confidence=confidence,
        reason_tags=tuple(out["reason_tags"]),
        rationale=out["rationale"],
        rationale_min_length=minimum,
        none_acceptable=out["none_acceptable"],
        edit_box=out["edit_box"],
    )


RATIONALE_CHOICES = ("required", "optional", "off")


def _distinct_texts(tags):
    return (
        isinstance(tags, list)
        and all(isinstance(t, str) and t.strip() for t in tags)
        and len(set(tags)) == len(tags)
    )


def _parse_aspect(aspect, keys_so_far):
    if (
        not isinstance(aspect, dict)
        or not isinstance(aspect.get("key"), str)
        or not aspect["key"].isidentifier()
    ):
        raise ValueError('Each aspect needs a key made of letters, digits and underscores, e.g. "helpful".')
    key = aspect["key"]
    if key in keys_so_far or key == "overall":
        raise ValueError(f"The aspect key {key!r} is used twice (or is the reserved word overall).")
    kind = aspect.get("kind", "rating")
    if kind not in ("rating", "ranking"):
        raise ValueError(f'Aspect {key!r}: kind must be "rating" or "ranking".')
    clean = {"key": key, "label": str(aspect.get("label") or key.replace("_", " ").title()), "kind": kind}
    if kind == "rating":
        clean.update(_rating_scale(aspect, key))
    clean.update(_aspect_follow_ups(aspect, key, kind))
    return clean


def _rating_scale(aspect, key):
    low, high = aspect.get("min", 1), aspect.get("max", 5)
    if (
        any(isinstance(v, bool) or not isinstance(v, int) for v in (low, high))
        or not low < high
        or high - low > 10
    ):
        raise ValueError(
            f"Aspect {key!r}: min and max must be whole numbers with min < max, at most 10 apart."
        )
    scale = {"min": low, "max": high}
    labels = aspect.get("labels")
    if labels is not None:
        if not isinstance(labels, list) or len(labels) != high - low + 1:
            raise ValueError(f"Aspect {key!r}: give one label per scale point ({high - low + 1}).")
        scale["labels"] = [str(x) for x in labels]
    return scale


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
        if not _distinct_texts(tags):
            raise ValueError(f"Aspect {key!r}: reason_tags must be a list of distinct, non-empty texts.")
        out["reason_tags"] = [t.strip() for t in tags]
    rationale = aspect.get("rationale", "off")
    if rationale not in RATIONALE_CHOICES:
        raise ValueError(f'Aspect {key!r}: rationale must be "required", "optional" or "off".')
    if rationale != "off":
        out["rationale"] = rationale
    return out


def _scale_answer(raw, scale, asked, what, missing, not_asked):
    """One follow-up on a labelled scale (strength, confidence), overall or per aspect: 1..n when the
    rubric asks for it here, None when it does not (and then nothing may be given)."""
    value = _optional_int(raw, what)
    if scale and asked:
        n = len(scale["labels"])
        if value is None:
            raise SubmissionInvalid(missing)
        if not 1 <= value <= n:
            raise SubmissionInvalid(f"{what} must be between 1 and {n}.")
        return value
    if value is not None:
        raise SubmissionInvalid(not_asked)
    return None


def _chosen_tags(given, allowed, not_a_list, unknown_message):
    """The ticked reasons, in the rubric's order; unknown_message takes the first unknown tag."""
    if not isinstance(given, list) or not all(isinstance(t, str) for t in given):
        raise SubmissionInvalid(not_a_list)
    unknown = [t for t in given if t not in allowed]
    if unknown:
        raise SubmissionInvalid(unknown_message.format(tag=unknown[0]))
    return [t for t in allowed if t in given]


def _text(value, what):
    value = value or ""
    if not isinstance(value, str):
        raise SubmissionInvalid(f"{what} must be text.")
    return value.strip()


def _follow_up_answers(aspect, value, groups):
    """Check one aspect's follow-up answers; return them as stored (only the ones the aspect asks for)."""
    label = aspect["label"]
    out = {}
    strength = _scale_answer(
        value.get("strength"),
        aspect.get("strength"),
        groups is not None and _has_clear_first(groups),
        f"The {label} strength",
        f"Say how much better the preferred response is on {label}.",
        f"{label}: strength only applies when one response is first on it, alone (not a tie).",
    )
    if strength is not None:
        out["strength"] = strength
    confidence = _scale_answer(
        value.get("confidence"),
        aspect.get("confidence"),
        True,
        f"The {label} confidence",
        f"Say how confident you are about {label}.",
        f"This rubric does not ask for confidence on {label}.",
    )
    if confidence is not None:
        out["confidence"] = confidence
    allowed = aspect.get("reason_tags") or []
    tags = _chosen_tags(
        value.get("reason_tags") or [],
        allowed,
        f"The {label} reasons must be a list of that aspect's reasons.",
        "{tag!r} is not one of the reasons for " + label.replace("{", "{{").replace("}", "}}") + ".",
    )
    if allowed:
        out["reason_tags"] = tags
    rationale = _text(value.get("rationale"), f"The {label} reason")
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


def check_submission(
    spec: RubricSpec | dict, k: int, payload: dict, display_order: list[int]
) -> tuple[dict, str]:
    """Validate a submission (made in screen slots) against the rubric (a RubricSpec, or a spec dict already
    validated); return Judgment/Assignment fields with every position translated to comparison positions.

    payload keys: ranking, strength, confidence, aspects {key: {"ranking": …} | {"ratings": [per slot]}},
    reason_tags, rationale, none_acceptable, edited_answer."""
    if not isinstance(payload, dict):
        raise SubmissionInvalid("The submission must be a JSON object.")
    ranking = _in_screen_ranking(payload.get("ranking"), k, "The overall ranking")
    if not spec["ties_allowed"] and any(len(group) > 1 for group in ranking):
        raise SubmissionInvalid("This rubric does not allow ties: put every response in its own place.")
    strength = _scale_answer(
        payload.get("strength"),
        spec["strength"],
        _has_clear_first(ranking),
        "Strength",
        "Say how much better the preferred response is.",
        "Strength only applies when one response is first, alone (not a tie).",
    )
    confidence = _scale_answer(
        payload.get("confidence"),
        spec["confidence"],
        True,
        "Confidence",
        "Say how confident you are.",
        "This rubric does not ask for confidence.",
    )
    aspects = _aspect_answers(spec, k, payload.get("aspects") or {}, display_order)
    tags = _chosen_tags(
        payload.get("reason_tags") or [],
        list(spec["reason_tags"]),
        "reason_tags must be a list of the rubric's reasons.",
        "{tag!r} is not one of this rubric's reasons.",
    )
    rationale = _overall_rationale(spec, payload.get("rationale"))
    none_acceptable = _none_acceptable(spec, payload.get("none_acceptable", False))
    edited = _text(payload.get("edited_answer"), "The edited answer")
    if edited and not spec["edit_box"]:
        raise SubmissionInvalid("This rubric does not ask for an edited answer.")
    return {
        "ranking": _to_positions(ranking, display_order),
        "strength": strength,
        "confidence": confidence,
        "aspects": aspects,
        "reason_tags": tags,
        "rationale": rationale,
        "none_acceptable": none_acceptable,
    }, edited


def _to_positions(groups, display_order):
    return [sorted(display_order[slot] for slot in group) for group in groups]


def _aspect_answers(spec, k, given, display_order):
    if not isinstance(given, dict):
        raise SubmissionInvalid("aspects must be an object keyed by aspect.")
    known = {a["key"] for a in spec["aspects"]}
    extra = sorted(set(given) - known)
    if extra:
        raise SubmissionInvalid(f"This rubric has no aspect called {extra[0]!r}.")
    aspects = {}
    for aspect in spec["aspects"]:
        value = given.get(aspect["key"])
        if not isinstance(value, dict):
            raise SubmissionInvalid(f"Answer the aspect {aspect['label']}.")
        if aspect["kind"] == "ranking":
            groups = _in_screen_ranking(value.get("ranking"), k, f"The {aspect['label']} ranking")
            if not spec["ties_allowed"] and any(len(g) > 1 for g in groups):
                raise SubmissionInvalid(f"This rubric does not allow ties ({aspect['label']}).")
            answer = {"kind": "ranking", "ranking": _to_positions(groups, display_order)}
        else:
            groups = None
            answer = {"kind": "rating", "ratings": _ratings(aspect, k, value.get("ratings"), display_order)}
        aspects[aspect["key"]] = {**answer, **_follow_up_answers(aspect, value, groups)}
    return aspects


def _ratings(aspect, k, ratings, display_order):
    """A rating aspect's answers (one per screen slot) by comparison position."""
    label = aspect["label"]
    if not isinstance(ratings, list) or len(ratings) != k:
        raise SubmissionInvalid(f"Rate every response on {label}.")
    by_position = [None] * k
    for slot, rating in enumerate(ratings):
        number = _optional_int(rating, f"The {label} rating")
        if number is None:
            raise SubmissionInvalid(f"Rate every response on {label}.")
        if not aspect["min"] <= number <= aspect["max"]:
            raise SubmissionInvalid(
                f"The {label} rating {number} is outside the scale {aspect['min']}–{aspect['max']}."
            )
        by_position[display_order[slot]] = number
    return by_position


def _overall_rationale(spec, value):
    rationale = _text(value, "The rationale")
    if spec["rationale"] == "off" and rationale:
        raise SubmissionInvalid("This rubric does not ask for a rationale.")
    if spec["rationale"] == "required" and not rationale:
        raise SubmissionInvalid("Write a rationale: this rubric requires one.")
    if rationale and len(rationale) < spec["rationale_min_length"]:
        raise SubmissionInvalid(
            f"The rationale is {len(rationale)} characters; write at least {spec['rationale_min_length']}."
        )
    return rationale


def _none_acceptable(spec, value):
    if isinstance(value, str):
        value = value.lower() in ("1", "true", "on", "yes")
    if not isinstance(value, bool):
        raise SubmissionInvalid("none_acceptable must be true or false.")
    if value and not spec["none_acceptable"]:
        raise SubmissionInvalid('This rubric does not offer "none acceptable".')
    return value
