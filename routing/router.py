"""The router: which comparisons should people label, under a budget? (no Django)

Policies:

- ``learned`` — from the seed set (comparisons labelled by both the AI judge and people), a
  calibrated classifier predicts for each item the *gain* of a human label: the probability that a
  person changes the AI's label (that they disagree). The budget goes to the largest gains. The
  realised gain of a routed item is observable (did the person's label differ?), so predicted and
  realised gain can be compared on a dashboard.
- ``uncertainty`` — the least confident AI labels go to people; the gain is 1 − confidence.
- ``random`` — a uniform random choice.

The learned policy falls back to ``uncertainty`` when there is no seed set, or when the seed set
has a single class (the AI always agreed, or always disagreed, with people); ``explain`` says so.

Budget and audit: ``choose`` sends at most ``round(budget * len(items))`` items to people. The audit
is a share *of that budget*: ``round(audit * that)`` of them are drawn first, uniformly from all
items, so every item has the same chance to be audited and the audit items give an unbiased
estimate of AI–human agreement for the whole pool and for each slice
(``routing.agreement_by_slice``). The rest of the budget goes by the policy among the others.

AI confidence: each AI label is either a string ("a", "b", "tie") — its confidence is then the
item's ``confidence_key`` feature (default ``"ai_confidence"``, a number in [0, 1]; 0.5 where it is
missing) — or a ``(label, confidence)`` pair, which overrides the feature.

Random draws come from a hash of (seed, item id), not from a random stream: the same seed gives the
same choice, and with stable ``ids`` (e.g. comparison ids) an item keeps its random draw when
the pool around it grows, so repeated calls move few items between queues.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Hashable, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np

from .encoding import (
    DEFAULT_CONFIDENCE,
    CleanItem,
    FeatureEncoder,
    Matrix,
    check_ai_labels,
    check_items,
    check_labels,
    check_share,
)

POLICIES = ("learned", "uncertainty", "random")
MODELS = ("auto", "logistic", "boosting")
VERSION = 1
# Below this many seed comparisons on the rarer side (agree / disagree), a calibration fold would
# hold one or two of them: the logistic model is then fitted once, strongly regularised, uncalibrated.
MIN_TO_CALIBRATE = 5
SMALL_SEED_SET_C = 0.05
C_GRID = (0.003, 0.01, 0.03, 0.1, 0.3, 1.0)
# "auto" tries gradient boosting only when the seed set can support its interactions; below this it
# uses logistic regression (in the routing benchmark boosting did not beat it at 200 or 1,000 seed
# comparisons, and it costs ~30x the fitting time, minutes on a busy 2-core machine).
MIN_FOR_BOOSTING = 2000
MIN_MINORITY_FOR_BOOSTING = 200

Destination = Literal["human", "ai"]


@dataclass(frozen=True)
class Decision:
    """Where one item of the last ``choose`` call went, and why."""

    index: int
    destination: Destination  # "human" (the human queue) or "ai" (the AI label stands)
    policy: str  # the policy that decided: learned | uncertainty | random (after any fallback)
    predicted_gain: float  # estimated chance that a person changes the AI label
    gain_source: str  # "seed-set model" or "AI confidence" (1 − confidence)
    score: float  # what the policy ranked by (gain, 1 − confidence, or a random draw)
    rank: int  # 1 = the policy's first pick among all items
    audit: bool  # a uniform random audit pick (part of the budget)
    ai_label: str
    ai_confidence: float
    fallback: str | None  # why "learned" fell back to "uncertainty", else None
    model_version: str
    reason: str  # the sentence ``explain`` returns

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _uniform(seed: int, salt: str, key: str) -> float:
    """A reproducible uniform number in [0, 1) for (seed, salt, key)."""
    digest = hashlib.blake2b(f"{seed}\x1f{salt}\x1f{key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2.0**64


def _percent(p: float) -> str:
    return f"{100 * p:.0f}%"


class Router:
    """Chooses the items whose human label is worth the most, under a budget.

    Use::

        router = Router(policy="learned", budget=0.25, audit=0.05, seed=0)
        router.fit(seed_items, seed_ai_labels, seed_human_labels)   # comparisons labelled by both
        chosen = router.choose(items, ai_labels)   # indices for people, most valuable first
        router.explain(chosen[0]), router.decisions[0].destination, router.model_version
    """

    def __init__(
        self,
        policy: str = "learned",
        budget: float = 0.25,
        audit: float = 0.05,
        seed: int = 0,
        *,
        confidence_key: str = "ai_confidence",
        model: str = "auto",
    ) -> None:
        if policy not in POLICIES:
            raise ValueError(f"Unknown routing policy {policy!r}; use one of: {', '.join(POLICIES)}.")
        if model not in MODELS:
            raise ValueError(f"Unknown gain model {model!r}; use one of: {', '.join(MODELS)}.")
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
            raise ValueError(f"The seed must be an integer; got {seed!r}.")
        if not isinstance(confidence_key, str) or not confidence_key:
            raise ValueError("The confidence key must be a non-empty feature name.")
        self.policy = policy
        self.budget = check_share("budget", budget)
        self.audit = check_share("audit share", audit)
        self.seed = int(seed)
        self.confidence_key = confidence_key
        self.model = model
        self._encoder: FeatureEncoder | None = None
        self._estimator: Any = None
        self.model_description = "none: not fitted"
        self.seed_size = 0
        self.seed_disagreement: float | None = None
        self.fallback: str | None = "there is no seed set (fit was not called)"
        self.model_version = self._version(None)
        self.decisions: list[Decision] = []

    # -- fitting ---------------------------------------------------------------------------

    def _version(self, seed_set: list[Any] | None) -> str:
        from sklearn import __version__ as sklearn_version

        payload = {
            "v": VERSION,
            "policy": self.policy,
            "budget": self.budget,
            "audit": self.audit,
            "seed": self.seed,
            "confidence_key": self.confidence_key,
            "model": self.model,
            "sklearn": sklearn_version,
            "seed_set": seed_set,
        }
        blob = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
        return f"routing-v{VERSION}-{hashlib.sha256(blob).hexdigest()[:12]}"

    def fit(
        self, items: Sequence[object], ai_labels: Sequence[object], human_labels: Sequence[object]
    ) -> Router:
        """Learn where people disagree with the AI, from comparisons labelled by both (the seed set)."""
        clean = check_items(items)
        labels, confidences = check_ai_labels(ai_labels, clean, self.confidence_key)
        human = check_labels(human_labels, len(clean), "human labels")
        y = np.array([a != h for a, h in zip(labels, human)], dtype=int)
        fallback: str | None = None
        if not len(y):
            fallback = "there is no seed set"
        elif y.min() == y.max():
            said = "disagreed with" if y[0] else "agreed with"
            fallback = f"the AI judge {said} people on every one of the {len(y)} seed comparisons"
        encoder: FeatureEncoder | None = None
        estimator: Any = None
        description = f"none: {fallback}"
        if fallback is None:
            encoder = FeatureEncoder(self.confidence_key)
            estimator, description = self._fit_model(encoder.fit_transform(clean, labels, confidences), y)
        # Only a finished fit replaces the previous one.
        self._encoder, self._estimator, self.model_description, self.fallback = (
            encoder,
            estimator,
            description,
            fallback,
        )
        self.seed_size = len(clean)
        self.seed_disagreement = float(y.mean()) if len(y) else None
        self.model_version = self._version([clean, labels, confidences, human])
        return self

    def _fit_model(self, x: Matrix, y: np.ndarray[Any, Any]) -> tuple[Any, str]:
        from sklearn.model_selection import StratifiedKFold, cross_val_score

        minority = int(min(y.sum(), len(y) - y.sum()))
        if minority < MIN_TO_CALIBRATE:
            return self._logistic(SMALL_SEED_SET_C).fit(x, y), (
                f"logistic regression, strongly regularised and uncalibrated "
                f"(only {minority} seed comparisons on the rarer side)"
            )
        folds = StratifiedKFold(n_splits=min(5, minority), shuffle=True, random_state=self.seed)
        c = self._choose_c(x, y, folds)
        kind = self.model
        if kind == "auto":
            kind = "logistic"
            if len(y) >= MIN_FOR_BOOSTING and minority >= MIN_MINORITY_FOR_BOOSTING:
                # Pick the model by held-out log loss: boosting finds interactions, but needs data.
                outer = StratifiedKFold(n_splits=3, shuffle=True, random_state=self.seed)
                scores = {
                    name: cross_val_score(
                        self._calibrated(name, c, len(y), folds), x, y, cv=outer, scoring="neg_log_loss"
                    ).mean()
                    for name in ("logistic", "boosting")
                }
                kind = max(scores, key=lambda name: scores[name])
        model = self._calibrated(kind, c, len(y), folds).fit(x, y)
        method = "isotonic" if kind == "boosting" and len(y) >= 1000 else "sigmoid"
        name = "gradient boosting" if kind == "boosting" else f"logistic regression (C={c:g})"
        return model, f"{name}, calibrated ({method}, {folds.get_n_splits()} folds)"

    @staticmethod
    def _choose_c(x: Matrix, y: np.ndarray[Any, Any], folds: Any) -> float:
        """The logistic model's regularisation, by cross-validated log loss on the seed set."""
        from sklearn.linear_model import LogisticRegressionCV
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        search = make_pipeline(
            StandardScaler(),
            LogisticRegressionCV(
                Cs=C_GRID,
                l1_ratios=(0.0,),
                cv=folds,
                scoring="neg_log_loss",
                max_iter=2000,
                use_legacy_attributes=False,
            ),
        ).fit(x, y)
        return float(search[-1].C_)

    @staticmethod
    def _logistic(c: float) -> Any:
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        return make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=2000))

    def _calibrated(self, kind: str, c: float, n: int, folds: Any) -> Any:
        from sklearn.calibration import CalibratedClassifierCV
        from sklearn.ensemble import HistGradientBoostingClassifier

        if kind == "boosting":
            base = HistGradientBoostingClassifier(
                learning_rate=0.05,
                max_iter=200,
                max_depth=3,
                min_samples_leaf=20,
                l2_regularization=1.0,
                random_state=self.seed,
            )
            return CalibratedClassifierCV(base, method="isotonic" if n >= 1000 else "sigmoid", cv=folds)
        # One model on the whole seed set, calibrated on cross-validated predictions: averaging the
        # fold models instead (ensemble) understated the gain of the top items in the benchmark.
        return CalibratedClassifierCV(self._logistic(c), method="sigmoid", cv=folds, ensemble=False)

    # -- choosing --------------------------------------------------------------------------

    def choose(
        self,
        items: Sequence[object],
        ai_labels: Sequence[object],
        *,
        ids: Sequence[Hashable] | None = None,
    ) -> list[int]:
        """Indices of the items to send to people, most valuable first (by the policy's own ranking).

        At most ``round(budget * len(items))``, no repeats. ``ids`` (optional, unique, e.g. comparison
        ids) keep each item's random draws stable across calls; by default an item's id is its index.
        """
        clean = check_items(items)
        labels, confidences = check_ai_labels(ai_labels, clean, self.confidence_key)
        n = len(clean)
        keys = [str(i) for i in range(n)] if ids is None else self._check_ids(ids, n)
        gains, gain_source = self._predicted_gains(clean, labels, confidences)
        policy = self.policy
        fallback = self.fallback if policy == "learned" else None
        if fallback is not None:
            policy = "uncertainty"
        if policy == "learned":
            scores = gains
        elif policy == "uncertainty":
            scores = np.array([1.0 - c for c in confidences])
        else:
            scores = np.array([_uniform(self.seed, "random", key) for key in keys])
        # Equal scores are ordered by a seeded draw, not by position (import order is not random).
        ties = [_uniform(self.seed, "tie", key) for key in keys]
        order = sorted(range(n), key=lambda i: (-scores[i], ties[i]))
        rank = {item: position + 1 for position, item in enumerate(order)}

        k = round(self.budget * n)
        n_audit = round(self.audit * k)
        audit_draw = sorted(range(n), key=lambda i: _uniform(self.seed, "audit", keys[i]))
        audited = set(audit_draw[:n_audit])
        by_policy = [i for i in order if i not in audited][: k - n_audit]
        chosen = sorted(audited | set(by_policy), key=lambda i: rank[i])

        human = set(chosen)
        context = {
            "n": n,
            "k": k,
            "n_audit": n_audit,
            "policy": policy,
            "fallback": fallback,
            "last_routed": by_policy[-1] if by_policy else None,
            "scores": scores,
            "gains": gains,
            "gain_source": gain_source,
            "confidences": confidences,
            "labels": labels,
            "rank": rank,
        }
        self.decisions = []
        for i in range(n):
            destination: Destination = "human" if i in human else "ai"
            reason = self._sentence(i, destination, i in audited, context)
            self.decisions.append(
                Decision(
                    index=i,
                    destination=destination,
                    policy=policy,
                    predicted_gain=round(float(gains[i]), 6),
                    gain_source=gain_source,
                    score=round(float(scores[i]), 6),
                    rank=rank[i],
                    audit=i in audited,
                    ai_label=labels[i],
                    ai_confidence=confidences[i],
                    fallback=fallback,
                    model_version=self.model_version,
                    reason=reason,
                )
            )
        return chosen

    @staticmethod
    def _check_ids(ids: Sequence[Hashable], n: int) -> list[str]:
        if isinstance(ids, (str, bytes)) or not isinstance(ids, Sequence) or len(ids) != n:
            raise ValueError(f"The ids must be a list with one id per item ({n} items).")
        keys = [str(key) for key in ids]
        if len(set(keys)) != n:
            raise ValueError("The ids must be unique: two items share an id.")
        return keys

    def _predicted_gains(
        self, items: list[CleanItem], labels: list[str], confidences: list[float]
    ) -> tuple[np.ndarray[Any, Any], str]:
        """P(a person changes the AI label), from the seed-set model where there is one."""
        if self._estimator is None or self._encoder is None or not items:
            return np.array([1.0 - c for c in confidences], dtype=float), "AI confidence"
        x = self._encoder.transform(items, labels, confidences)
        return np.asarray(self._estimator.predict_proba(x)[:, 1], dtype=float), "seed-set model"

    def _sentence(self, i: int, destination: Destination, audit: bool, c: dict[str, Any]) -> str:
        label, confidence, gain = c["labels"][i], c["confidences"][i], float(c["gains"][i])
        n, k, policy, rank, last = c["n"], c["k"], c["policy"], c["rank"][i], c["last_routed"]
        chance = f"a {_percent(gain)} chance that a person changes the AI judge's label {label!r}"
        if c["gain_source"] == "AI confidence":
            chance += " (1 − its confidence)"
        if audit:
            text = (
                f"Item {i} goes to people as a random audit pick (the budget's {c['n_audit']} audit picks are drawn "
                f"uniformly from all {n} items, so the AI judge's agreement with people is estimated without bias); {chance}."
            )
        elif destination == "ai" and k == 0:
            text = (
                f"Item {i} stays with the AI judge ({label!r}): the human budget is 0 of {n} items; {chance}."
            )
        elif policy == "random":
            went = (
                "goes to people: drawn"
                if destination == "human"
                else f"stays with the AI judge ({label!r}): not drawn"
            )
            text = f"Item {i} {went} uniformly at random ({k} of {n} go to people); {chance}."
        elif policy == "learned":
            if destination == "human":
                text = f"Item {i} goes to people: the learned router predicts {chance} (rank {rank} of {n}; {k} go to people)."
            else:
                cut = (
                    f", at or below the {_percent(float(c['scores'][last]))} of the last item sent to people"
                    if last is not None
                    else ""
                )
                text = f"Item {i} stays with the AI judge ({label!r}): the learned router predicts {chance}{cut} (rank {rank} of {n})."
        elif destination == "human":
            text = (
                f"Item {i} goes to people: the AI judge is {confidence:.2f} confident in {label!r} (rank {rank} of {n} "
                f"from the least confident; {k} go to people); {chance}."
            )
        else:
            cut = (
                f", at or above the {c['confidences'][last]:.2f} of the last item sent to people"
                if last is not None
                else ""
            )
            text = (
                f"Item {i} stays with the AI judge ({label!r}): it is {confidence:.2f} confident{cut} "
                f"(rank {rank} of {n} from the least confident); {chance}."
            )
        if c["fallback"]:
            text += f" The learned policy fell back to uncertainty: {c['fallback']}."
        return text

    def explain(self, i: int) -> str:
        """Why item ``i`` of the last ``choose`` call went where it went, in one or two sentences."""
        if not self.decisions:
            raise ValueError("There is nothing to explain yet: call choose() first.")
        if isinstance(i, bool) or not isinstance(i, (int, np.integer)) or not 0 <= i < len(self.decisions):
            raise ValueError(f"Item {i!r} is not in the last choose() call (0 to {len(self.decisions) - 1}).")
        return self.decisions[int(i)].reason

    def __repr__(self) -> str:
        return (
            f"Router(policy={self.policy!r}, budget={self.budget:g}, audit={self.audit:g}, seed={self.seed}, "
            f"model={self.model_description!r}, version={self.model_version!r})"
        )


__all__ = ["Decision", "Router", "POLICIES", "DEFAULT_CONFIDENCE"]
