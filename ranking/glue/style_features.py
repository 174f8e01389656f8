"""Style features per response id for style control, backed by ``ResponseStyle``.

``lookup`` only reads: stored rows, else features computed from an answer's text (kept in this
process for finished answers). ``save`` writes the finished answers computed since, so other
processes and later starts read four numbers instead of the text; the refits call it when they
write their snapshots."""

from __future__ import annotations

import threading
from itertools import islice

import numpy as np
import numpy.typing as npt

from annotation.selectors import response_texts

from ..models import ResponseStyle
from ..style import FEATURES, markdown_features


class StyleTable:
    """This process's style features: sorted response ids and their rows, so memory follows the
    answers that were rated, not the largest response id."""

    def __init__(self):
        self.ids = np.zeros(0, dtype=np.int64)
        self.values = np.zeros((0, len(FEATURES)), dtype=np.float64)
        self.unsaved = {}  # response id -> features of a finished answer computed here, not stored yet
        self.lock = threading.Lock()

    def _find(self, rids: npt.NDArray[np.int64]) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.bool_]]:
        at = np.minimum(np.searchsorted(self.ids, rids), max(len(self.ids) - 1, 0))
        found = self.ids[at] == rids if len(self.ids) else np.zeros(len(rids), dtype=bool)
        return at, found

    def lookup(self, rids: npt.NDArray[np.int64]) -> npt.NDArray[np.float64]:
        """(len(rids), 4) raw style counts, in the order of ``rids``; writes nothing."""
        with self.lock:
            at, found = self._find(rids)
            missing = np.unique(rids[~found])
            if not missing.size:
                return self.values[at]
            ids, values, transient = self._load(missing)
            if ids.size:
                if self.ids.size:
                    ids, values = np.concatenate([self.ids, ids]), np.concatenate([self.values, values])
                if (np.diff(ids) < 0).any():  # the stored rows come in storage order, mostly sorted
                    order = np.argsort(ids, kind="stable")
                    ids, values = ids[order], values[order]
                self.ids, self.values = ids, values
                at, found = self._find(rids)
            if found.all():
                return self.values[at]
            out = np.zeros((len(rids), len(FEATURES)))
            out[found] = self.values[at[found]]
            for i in np.flatnonzero(~found):  # answers still being written: computed, not kept
                out[i] = transient.get(int(rids[i]), 0.0)
            return out

    def save(self) -> int:
        """Store the finished answers' features computed since the last save; returns how many."""
        with self.lock:
            unsaved, self.unsaved = self.unsaved, {}
        if not unsaved:
            return 0
        try:
            ResponseStyle.objects.bulk_create(
                [ResponseStyle(response_id=rid, **feats) for rid, feats in unsaved.items()],
                ignore_conflicts=True,
                batch_size=5000,
            )
        except BaseException:
            with self.lock:  # not stored: try again at the next save
                self.unsaved = {**unsaved, **self.unsaved}
            raise
        return len(unsaved)

    def _load(
        self, missing: npt.NDArray[np.int64]
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64], dict[int, list[int]]]:
        """(ids, feature rows) of the finished answers among ``missing`` (stored, or computed now
        and remembered for ``save``) and {id: feature row} of answers still being written, which
        may change. Stored rows are gathered into arrays a slice at a time: two million answers as
        Python objects would take hundreds of megabytes."""
        stored = ResponseStyle.objects.order_by().values_list("response_id", *FEATURES)
        if missing.size < 100_000:
            stored = stored.filter(response_id__in=missing.tolist())
        rows = stored.iterator(chunk_size=10_000)
        ids, values = [], []
        for chunk in iter(lambda: list(islice(rows, 50_000)), []):
            part = np.array(chunk, dtype=np.int64)
            wanted = missing[np.minimum(np.searchsorted(missing, part[:, 0]), len(missing) - 1)] == part[:, 0]
            ids.append(part[wanted, 0])
            values.append(part[wanted, 1:].astype(np.float64))
        found = np.concatenate(ids) if ids else np.zeros(0, dtype=np.int64)
        transient = {}
        still = np.setdiff1d(missing, found).tolist()
        for start in range(0, len(still), 5000):
            fresh = {}
            for rid, (text, done) in response_texts(still[start : start + 5000]).items():
                feats = markdown_features(text)
                if done:  # a finished answer no longer changes: computed once, stored at the next save
                    fresh[rid] = feats
                else:
                    transient[rid] = [feats[f] for f in FEATURES]
            self.unsaved.update(fresh)
            ids.append(np.array(list(fresh), dtype=np.int64))
            values.append(
                np.array(
                    [[feats[f] for f in FEATURES] for feats in fresh.values()], dtype=np.float64
                ).reshape(-1, len(FEATURES))
            )
        if not ids:
            return np.zeros(0, dtype=np.int64), np.zeros((0, len(FEATURES))), transient
        return np.concatenate(ids), np.concatenate(values), transient


_table = StyleTable()


def lookup(rids: npt.NDArray[np.int64]) -> npt.NDArray[np.float64]:
    """This process's features for ``rids`` (see ``StyleTable.lookup``)."""
    return _table.lookup(rids)


def save() -> int:
    """Store the finished answers' features this process computed (see ``StyleTable.save``)."""
    return _table.save()


def reset() -> None:
    """Forget this process's features (read again on the next lookup)."""
    global _table
    _table = StyleTable()
