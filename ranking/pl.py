"""Plackett–Luce maximum likelihood for K-wise rankings with tie groups (numpy/scipy; no Django).

A ranking x_1 > x_2 > ... > x_K has log-likelihood
    sum_r [theta_{x_r} - log sum_{l >= r} exp(theta_{x_l})].
A tie group is scored as the average of this log-likelihood over every order of
its members (each order equally likely). At K = 2 a tie is then exactly half a
win each, so PL on pairwise data is Bradley–Terry with Chatbot Arena's ties.
Averaging over the orders of a group of size m expands into 2^m - 1 choice sets
(tie groups above 12 models are refused).

The whole data set reduces to sufficient statistics: a linear vector a (per
model) and a coefficient per unique choice set S:
    L(theta) = a . theta - sum_S c_S logsumexp(theta_S) - reg/2 ||theta||^2.
The same light ridge as Bradley–Terry keeps an unbeaten model finite.
"""

import copy
import itertools
from math import comb
from typing import Any

import numpy as np

from .bt import DEFAULT_REG, Arr
from .judgments import Judgments, Key

MAX_TIE_GROUP = 12


def ranking_terms(ranking: Key) -> tuple[dict[int, float], dict[frozenset[int], float]]:
    """(linear {model: coef}, {frozenset choice set: coef}) for one canonical index ranking."""
    linear: dict[int, float] = {}
    sets: dict[frozenset[int], float] = {}
    remaining = [m for g in ranking for m in g]
    start = 0
    for group in ranking:
        m = len(group)
        if m > MAX_TIE_GROUP:
            raise ValueError(
                f"A tie group of {m} models is too large for Plackett–Luce (at most {MAX_TIE_GROUP})."
            )
        S = frozenset(remaining[start:])
        for x in group:
            linear[x] = linear.get(x, 0.0) + 1.0
        for r in range(m):
            coef = 1.0 / comb(m, r)
            for T in itertools.combinations(group, r):
                key = S.difference(T)
                sets[key] = sets.get(key, 0.0) + coef
        start += m
    # a singleton choice set contributes theta_x - theta_x: cancel it against the linear part
    for key in [k for k in sets if len(k) == 1]:
        (x,) = key
        linear[x] -= sets.pop(key)
    return {k: v for k, v in linear.items() if abs(v) > 1e-15}, sets


class PLData:
    """Linear and choice-set matrices over the unique judgments (rows) of a Judgments object."""

    def __init__(self, judgments: Judgments) -> None:
        from scipy import sparse

        arr = judgments.arrays()
        M = judgments.n_models
        set_ids: dict[frozenset[int], int] = {}
        lin_r: list[int] = []
        lin_c: list[int] = []
        lin_v: list[float] = []
        set_r: list[int] = []
        set_c: list[int] = []
        set_v: list[float] = []
        for u, ranking in enumerate(arr["rankings"]):
            linear, sets = ranking_terms(ranking)
            for x, v in linear.items():
                lin_r.append(u)
                lin_c.append(x)
                lin_v.append(v)
            for key, v in sets.items():
                s = set_ids.setdefault(key, len(set_ids))
                set_r.append(u)
                set_c.append(s)
                set_v.append(v)
        U = len(arr["rankings"])
        self.M = M
        self.weights = arr["weights"]
        self.counts = arr["counts"]
        self.A_lin = sparse.csr_matrix((lin_v, (lin_r, lin_c)), shape=(U, M))
        self.A_set = sparse.csr_matrix((set_v, (set_r, set_c)), shape=(U, len(set_ids)))
        choice_sets = list(set_ids.keys())
        # group choice sets by size for vectorised softmax
        self.groups: list[tuple[Arr, Arr, Any]] = []
        by_size: dict[int, list[int]] = {}
        for s, key in enumerate(choice_sets):
            by_size.setdefault(len(key), []).append(s)
        for size, listed in sorted(by_size.items()):
            ids = np.array(listed, dtype=np.int64)
            members = np.array([sorted(choice_sets[s]) for s in listed], dtype=np.int64)
            n = len(ids)
            scatter = sparse.csr_matrix(
                (np.ones(n * size), (np.arange(n * size), members.reshape(-1))), shape=(n * size, M)
            )
            self.groups.append((ids, members, scatter))

    def stats(self, counts: Arr | None = None) -> tuple[Arr, Arr]:
        c = self.counts if counts is None else counts
        cw = c * self.weights
        if cw.ndim == 1:
            cw = cw[None, :]
        lin = (self.A_lin.T @ cw.T).T
        coef = (self.A_set.T @ cw.T).T
        return lin, coef


class PLProblem:
    def __init__(self, data: PLData, lin: Arr, coef: Arr, reg: float = DEFAULT_REG) -> None:
        self.data = data
        self.M = data.M
        self.dim = data.M
        self.lin = np.atleast_2d(lin)
        self.coef = np.atleast_2d(coef)
        self.reg = reg

    def take(self, mask: Arr) -> "PLProblem":
        if mask.all():
            return self
        other = copy.copy(self)
        other.lin, other.coef = self.lin[mask], self.coef[mask]
        return other

    def objective(self, x: Arr) -> Any:
        val = (self.lin * x).sum(axis=1) - 0.5 * self.reg * (x * x).sum(axis=1)
        for ids, members, _ in self.data.groups:
            z = x[:, members]  # (B, S, m)
            mx = z.max(axis=2, keepdims=True)
            lse = np.log(np.exp(z - mx).sum(axis=2)) + mx[..., 0]
            val -= (self.coef[:, ids] * lse).sum(axis=1)
        return val

    def derivatives(self, x: Arr, hessian: bool = True) -> tuple[Arr, Arr | None]:
        B = x.shape[0]
        g = self.lin - self.reg * x
        H = np.zeros((B, self.M, self.M)) if hessian else np.zeros((0, self.M, self.M))
        for ids, members, scatter in self.data.groups:
            z = x[:, members]
            z = z - z.max(axis=2, keepdims=True)
            p = np.exp(z)
            p /= p.sum(axis=2, keepdims=True)
            c = self.coef[:, ids][..., None]  # (B, S, 1)
            cp = c * p
            g -= (scatter.T @ cp.reshape(B, -1).T).T
            if hessian:
                size = members.shape[1]
                outer = cp[..., :, None] * p[..., None, :]  # c p p^T, (B, S, m, m)
                rows = np.broadcast_to(members[:, :, None], (members.shape[0], size, size))
                cols = np.broadcast_to(members[:, None, :], (members.shape[0], size, size))
                flat = (rows * self.M + cols).reshape(-1)
                for b in range(B):
                    H[b].reshape(-1)[:] += np.bincount(
                        flat, weights=outer[b].reshape(-1), minlength=self.M * self.M
                    )
                    H[b][np.diag_indices(self.M)] -= np.bincount(
                        members.reshape(-1), weights=cp[b].reshape(-1), minlength=self.M
                    )
        if not hessian:
            return g, None
        H[:, np.arange(self.M), np.arange(self.M)] -= self.reg
        return g, H
