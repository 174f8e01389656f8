"""Checks the router's input and turns feature dicts into a numeric matrix (no Django).

Every check raises ``ValueError`` with a sentence that names the item and the feature, so a
caller can pass the message on to a person unchanged.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

LABELS = ("a", "b", "tie")
DEFAULT_CONFIDENCE = 0.5
AI_LABEL_FEATURE = "ai_label"
AI_SIDE_SUFFIX = " × AI side"
MISSING_SUFFIX = " missing"

FeatureValue = int | float | str | bool | None
Item = Mapping[str, Any]
AILabel = str | Sequence[Any]
CleanItem = dict[str, float | str]
Matrix = npt.NDArray[np.float64]


def check_share(name: str, value: object) -> float:
    """A share in [0, 1] (budget, audit), as a float."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(float(value)):
        raise ValueError(f"The {name} must be a number between 0 and 1; got {value!r}.")
    share = float(value)
    if not 0.0 <= share <= 1.0:
        raise ValueError(f"The {name} must be between 0 and 1 (a share of the items); got {share:g}.")
    return share


def check_label(value: object, what: str) -> str:
    if not isinstance(value, str) or value not in LABELS:
        raise ValueError(f"{what} must be one of 'a', 'b' or 'tie'; got {value!r}.")
    return value


def check_labels(labels: Sequence[object], n: int, what: str) -> list[str]:
    if isinstance(labels, (str, bytes)) or not isinstance(labels, Sequence):
        raise ValueError(f"The {what} must be a list with one label per item; got {type(labels).__name__}.")
    if len(labels) != n:
        raise ValueError(f"There are {n} items but {len(labels)} {what}; give one per item.")
    return [check_label(label, f"The {what[:-1]} of item {i}") for i, label in enumerate(labels)]


def _check_number(value: float, i: int, key: str) -> float:
    if not math.isfinite(value):
        raise ValueError(
            f"Item {i} has feature {key!r} = {value}; give a finite number, or None for a missing value."
        )
    return value


def check_items(items: Sequence[object]) -> list[CleanItem]:
    """Items as dicts of floats and strings: booleans become 0/1, None values are dropped (missing)."""
    if isinstance(items, (str, bytes, Mapping)) or not isinstance(items, Sequence):
        raise ValueError(f"The items must be a list of feature dicts; got {type(items).__name__}.")
    clean: list[CleanItem] = []
    for i, item in enumerate(items):
        if not isinstance(item, Mapping):
            raise ValueError(f"Item {i} must be a dict of features; got {type(item).__name__}.")
        row: CleanItem = {}
        for key, value in item.items():
            if not isinstance(key, str):
                raise ValueError(f"Item {i} has a feature name {key!r} that is not a string.")
            if value is None:
                continue
            if isinstance(value, (bool, np.bool_)):
                row[key] = float(value)
            elif isinstance(value, numbers.Real):
                row[key] = _check_number(float(value), i, key)
            elif isinstance(value, str):
                row[key] = value
            else:
                raise ValueError(
                    f"Item {i} has feature {key!r} of type {type(value).__name__}; "
                    "features must be numbers, strings, booleans or None."
                )
        clean.append(row)
    return clean


def check_ai_labels(
    ai_labels: Sequence[object], items: list[CleanItem], confidence_key: str
) -> tuple[list[str], list[float]]:
    """The AI labels and their confidences.

    Each AI label is a string, or a (label, confidence) pair; without a pair the confidence is the
    item's ``confidence_key`` feature, and 0.5 where the item has none."""
    if isinstance(ai_labels, (str, bytes)) or not isinstance(ai_labels, Sequence):
        raise ValueError(
            f"The AI labels must be a list with one label per item; got {type(ai_labels).__name__}."
        )
    if len(ai_labels) != len(items):
        raise ValueError(f"There are {len(items)} items but {len(ai_labels)} AI labels; give one per item.")
    labels: list[str] = []
    confidences: list[float] = []
    for i, (given, item) in enumerate(zip(ai_labels, items)):
        confidence: object = item.get(confidence_key, DEFAULT_CONFIDENCE)
        source = f"feature {confidence_key!r} of item {i}"
        if isinstance(given, Sequence) and not isinstance(given, str):
            if len(given) != 2:
                raise ValueError(
                    f"The AI label of item {i} must be a label or a (label, confidence) pair; got {given!r}."
                )
            given, confidence = given[0], given[1]
            source = f"AI confidence of item {i}"
            if confidence is None:
                confidence = DEFAULT_CONFIDENCE
        labels.append(check_label(given, f"The AI label of item {i}"))
        if (
            isinstance(confidence, bool)
            or not isinstance(confidence, numbers.Real)
            or not 0 <= float(confidence) <= 1
        ):
            raise ValueError(f"The {source} must be a number between 0 and 1; got {confidence!r}.")
        confidences.append(float(confidence))
    return labels, confidences


def _side(label: str) -> float:
    """+1 when the AI prefers A, -1 for B, 0 for a tie."""
    return {"a": 1.0, "b": -1.0}.get(label, 0.0)


class FeatureEncoder:
    """Feature dicts → a dense matrix, learned on the seed set.

    - strings are one-hot (scikit-learn's DictVectorizer), numbers stay as they are;
    - a number missing from an item takes the seed set's median, plus a "<name> missing" 0/1 column;
    - the AI label is one-hot too, and every number is also given times the AI's side (+1 when the AI
      picked A, -1 for B, 0 for a tie), so a signed feature such as a reward margin A − B can be
      read as agreeing or disagreeing with the AI verdict by a linear model;
    - names not seen in the seed set are ignored (they cannot carry learned weight).
    """

    def __init__(self, confidence_key: str) -> None:
        self.confidence_key = confidence_key
        self.medians: dict[str, float] = {}
        self._vectorizer: Any = None

    def _rows(self, items: list[CleanItem], labels: list[str], confidences: list[float]) -> list[CleanItem]:
        rows: list[CleanItem] = []
        for item, label, confidence in zip(items, labels, confidences):
            row: CleanItem = dict(item)
            row[self.confidence_key] = confidence
            for key, median in self.medians.items():
                if not isinstance(row.get(key), float):
                    row.setdefault(key, median)
                    row[key + MISSING_SUFFIX] = 1.0
            side = _side(label)
            for key, value in list(row.items()):
                if (
                    isinstance(value, float)
                    and key != self.confidence_key
                    and not key.endswith(MISSING_SUFFIX)
                ):
                    row[key + AI_SIDE_SUFFIX] = value * side
            row[AI_LABEL_FEATURE] = label
            rows.append(row)
        return rows

    def fit_transform(self, items: list[CleanItem], labels: list[str], confidences: list[float]) -> Matrix:
        from sklearn.feature_extraction import DictVectorizer

        values: dict[str, list[float]] = {}
        for item in items:
            for key, value in item.items():
                if isinstance(value, float):
                    values.setdefault(key, []).append(value)
        values.pop(self.confidence_key, None)
        self.medians = {key: float(np.median(v)) for key, v in sorted(values.items())}
        self._vectorizer = DictVectorizer(sparse=False, sort=True)
        matrix: Matrix = self._vectorizer.fit_transform(self._rows(items, labels, confidences))
        return matrix

    def transform(self, items: list[CleanItem], labels: list[str], confidences: list[float]) -> Matrix:
        if self._vectorizer is None:
            raise ValueError("The feature encoder has not been fitted on a seed set yet.")
        matrix: Matrix = self._vectorizer.transform(self._rows(items, labels, confidences))
        return matrix

    @property
    def feature_names(self) -> list[str]:
        return (
            []
            if self._vectorizer is None
            else [str(name) for name in self._vectorizer.get_feature_names_out()]
        )
