"""The judgment ledger a worker process keeps between refits (pure: the glue reads the rows).

Per prompt category ("" = all), the counted outcomes in vote order and, per vote, the response
behind each ranked model (for style control); plus which judgment ids it has absorbed, so a live
refit reads only new rows and can tell when it must read everything again."""

from array import array
from collections.abc import Iterable, Sequence
from typing import Any, Protocol

import numpy as np

from .judgments import Judgments, Key

# Ids are taken at insert but visible at commit, so a vote can appear below ids already read.
# A live refit looks this many ids back for such late commits (vote transactions last
# milliseconds); anything later still is caught by comparing with the full refit's read.
LATE_COMMIT_WINDOW = 1000


class JudgedRow(Protocol):
    """One rated judgment as the glue reads it (``annotation.selectors.judged_rankings``)."""

    @property
    def judgment_id(self) -> int: ...
    @property
    def ranking(self) -> Sequence[Sequence[str]]: ...
    @property
    def models(self) -> Sequence[str]: ...  # model name per shown position
    @property
    def response_ids(self) -> Sequence[int]: ...  # response id per shown position
    @property
    def category(self) -> str: ...  # and optionally language (str) and hard (bool)


class Board:
    """One category's judgments: counted outcomes kept in vote order, and per vote the response
    of each ranked model, flattened in the order the outcome lists its models (for style control)."""

    def __init__(self) -> None:
        self.stats = Judgments(keep_order=True)
        self.responses = array("q")
        self.last_id: int | None = None
        self.warm: dict[
            tuple[str, bool], Any
        ] = {}  # (method, style control) -> its last fit, to warm-start the next

    @property
    def sequence(self) -> list[Key]:
        assert self.stats.sequence is not None  # kept in order
        return self.stats.sequence

    @property
    def count(self) -> int:
        return len(self.sequence)

    def add(self, rows: Sequence[JudgedRow]) -> None:
        stats = self.stats
        stats.extend([r.ranking for r in rows])
        models = stats.models
        sequence = self.sequence
        for row, key in zip(rows, sequence[len(sequence) - len(rows) :]):
            by_model = dict(zip(row.models, row.response_ids))
            self.responses.extend(by_model[models[m]] for group in key for m in group)
        self.last_id = max(self.last_id or 0, max(r.judgment_id for r in rows))


class Ledger:
    """The judgments one worker process has read, per category ("" = all)."""

    def __init__(self, epoch: int | None) -> None:
        self.epoch = epoch
        self.last_id: int | None = None
        self.ids = array("q")  # every absorbed id (to compare with the full refit's count)
        self.recent: set[int] = set()  # absorbed ids within LATE_COMMIT_WINDOW of last_id
        self.passed: set[int] = set()  # ids there that are not rated (AI judges, campaigns, named models)
        self.boards: dict[str, Board] = {"": Board()}
        self.checked: dict[str, Any] | None = None  # the full refit read this ledger last agreed with

    @property
    def count(self) -> int:
        return len(self.ids)

    def absorb(self, rows: Sequence[JudgedRow], passed: Iterable[int] = ()) -> set[str]:
        """Add rows (and ids looked at that are not rated); returns the categories that changed."""
        passed = set(passed)
        ids = [r.judgment_id for r in rows]
        self.ids.extend(ids)
        if ids or passed:
            self.last_id = max([self.last_id or 0, *ids, *passed])
        self.recent.update(ids)
        self.passed.update(passed)
        floor = (self.last_id or 0) - LATE_COMMIT_WINDOW
        if min(self.recent, default=floor + 1) <= floor or min(self.passed, default=floor + 1) <= floor:
            self.recent = {i for i in self.recent if i > floor}
            self.passed = {i for i in self.passed if i > floor}
        if not rows:
            return set()
        # A comparison that showed one model twice says nothing about models against each other.
        valid = [r for r in rows if len(set(r.models)) == sum(len(g) for g in r.ranking)]
        changed = set()
        for category, group in by_category(valid).items():
            if group:
                self.boards.setdefault(category, Board()).add(group)
                changed.add(category)
        return changed

    def agrees_with(self, full_read: dict[str, Any] | None) -> bool:
        """False if the latest full refit counted a different number of judgments up to its last
        id than this ledger holds (a late commit beyond the window, or a bulk change without signals)."""
        if not full_read or full_read == self.checked or full_read.get("epoch") != self.epoch:
            return True
        last = full_read["last_id"]
        if last is None or self.last_id is None or self.last_id < last:
            return True  # not caught up with that read yet: check at a later refit
        held = int(np.count_nonzero(np.frombuffer(self.ids, dtype=np.int64) <= last))
        if held != full_read["count"]:
            return False
        self.checked = full_read
        return True


def by_category(records: Sequence[JudgedRow]) -> dict[str, list[JudgedRow]]:
    """Boards by key: "" (all), the prompt category, "lang:<code>" per language, and "hard" prompts."""
    groups = {"": list(records)}
    for record in records:
        if record.category:
            groups.setdefault(record.category, []).append(record)
        language = getattr(record, "language", "")
        if language:
            groups.setdefault(f"lang:{language}", []).append(record)
        if getattr(record, "hard", False):
            groups.setdefault("hard", []).append(record)
    return groups
