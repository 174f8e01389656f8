"""Bradley–Terry maximum likelihood on pairwise sufficient statistics (numpy/scipy; no Django).

Parameters are natural-log strengths theta (P(i beats j) = sigmoid(theta_i - theta_j)).
Ties are either half a win each (``ties="half"``, Chatbot Arena's convention) or
modelled with Davidson's tie parameter nu = exp(eta) (``ties="davidson"``):

    P(i > j) = e^{d/2} / (e^{d/2} + e^{-d/2} + nu),  P(tie) = nu / (...),  d = theta_i - theta_j.

A light ridge ``reg/2 * ||theta||^2`` keeps an unbeaten model finite and fixes the
gauge at mean(theta) = 0 (the log-likelihood's gradient sums to zero over models).
Everything works on a batch of B count vectors at once: the point estimate is
B = 1; a bootstrap is B resamples solved together.
"""

import copy
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

Arr = npt.NDArray[Any]

# Prior precision on theta (logits): N(0, 1), i.e. a model's strength is a priori within about
# +-340 rating points of the mean (95%). Weak at arena sizes (a model with 1,000 battles has a
# precision near 200), decisive after one vote: a single win moves the two models apart by
# 110 points, not 750, and their intervals stay about +-300 points wide. Calibrated in
# ranking/calibration.py (coverage of 95% intervals at 30 to 3,000 votes).
PRIOR_SD = 1.0
DEFAULT_REG = 1.0 / PRIOR_SD**2
ETA_REG = 0.01


class Problem(Protocol):
    """A batch of log posteriors in x (B, dim): what ``newton`` and ``fixed_hessian_solve`` solve."""

    def objective(self, x: Arr) -> Arr: ...

    def derivatives(self, x: Arr, hessian: bool = True) -> tuple[Arr, Any]: ...

    def take(self, mask: Arr) -> "Problem": ...


def incidence(pairs: Arr, M: int) -> Any:
    """Sparse P x M matrix with +1 at the pair's first model and -1 at its second."""
    from scipy import sparse

    P = len(pairs)
    rows = np.repeat(np.arange(P), 2)
    cols = pairs.reshape(-1)
    vals = np.tile([1.0, -1.0], P)
    return sparse.csr_matrix((vals, (rows, cols)), shape=(P, M))


def _log_sigmoid(x: Arr) -> Arr:
    return -np.logaddexp(0.0, -x)


class PairProblem:
    """Per-pair derivatives of the BT log-likelihood for a batch of (W, L, T) count arrays (B, P)."""

    def __init__(
        self, pairs: Any, M: int, W: Any, L: Any, T: Any, ties: str = "half", reg: float = DEFAULT_REG
    ) -> None:
        self.pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
        self.M = M
        self.I, self.J = self.pairs[:, 0], self.pairs[:, 1]
        self.D = incidence(self.pairs, M)
        self.absD = abs(self.D)
        self.W, self.L, self.T = (np.atleast_2d(np.asarray(x, dtype=np.float64)) for x in (W, L, T))
        self.N = self.W + self.L + self.T
        self.A = (
            None if ties == "davidson" else self.W + 0.5 * self.T
        )  # half-tie wins: the gradient's data term
        self.ties = ties
        self.reg = reg
        self.davidson = ties == "davidson"
        self.dim = M + (1 if self.davidson else 0)
        self._dd: Arr | None = None

    def _Ddense(self) -> Arr:
        if self._dd is None or self._dd.dtype != self.W.dtype:
            self._dd = self.D.toarray().astype(self.W.dtype)
        return self._dd

    def take(self, mask: Arr) -> "PairProblem":
        """The same problem restricted to some rows of the batch."""
        if mask.all():
            return self
        other = copy.copy(self)
        other.W, other.L, other.T, other.N = (a[mask] for a in (self.W, self.L, self.T, self.N))
        if self.A is not None:
            other.A = self.A[mask]
        return other

    def _d(self, x: Arr) -> Arr:
        th = x[:, : self.M]
        return th[:, self.I] - th[:, self.J]

    def objective(self, x: Arr) -> Any:
        d = self._d(x)
        th = x[:, : self.M]
        pen = 0.5 * self.reg * (th * th).sum(axis=1)
        if not self.davidson:
            a = self.W + 0.5 * self.T
            b = self.L + 0.5 * self.T
            return (a * _log_sigmoid(d) + b * _log_sigmoid(-d)).sum(axis=1) - pen
        eta = x[:, self.M][:, None]
        logD = np.logaddexp(np.logaddexp(d / 2, -d / 2), eta)
        ll = self.W * (d / 2 - logD) + self.L * (-d / 2 - logD) + self.T * (eta - logD)
        return ll.sum(axis=1) - pen - 0.5 * ETA_REG * x[:, self.M] ** 2

    def derivatives(self, x: Arr, hessian: bool = True) -> tuple[Arr, Arr | None]:
        """Gradient (B, dim) and, if asked, Hessian (B, dim, dim) of the objective."""
        B = x.shape[0]
        d = self._d(x)
        if not self.davidson:
            p = np.exp(-d, out=d)  # d is a fresh array: reuse it
            p += 1.0
            np.reciprocal(p, out=p)
            g_d = self.N * p
            assert self.A is not None  # set for every tie model but Davidson's
            np.subtract(self.A, g_d, out=g_d)
            if hessian:
                h_dd = -self.N * p * (1.0 - p)
        else:
            dc = np.clip(d, -60, 60)
            s, c = np.sinh(dc / 2), np.cosh(dc / 2)
            e = np.exp(x[:, self.M])[:, None]
            Dn = 2 * c + e
            g_d = 0.5 * (self.W - self.L) - self.N * s / Dn
            g_e = self.T - self.N * e / Dn
            h_dd = -self.N * ((c / 2) / Dn - (s / Dn) ** 2)
            h_ee = -self.N * (e / Dn - (e / Dn) ** 2)
            h_de = self.N * s * e / Dn**2
        g = np.empty((B, self.dim), dtype=np.result_type(g_d, x))
        g[:, : self.M] = (
            g_d @ self._Ddense() - self.reg * x[:, : self.M]
            if B > 8
            else (self.D.T @ g_d.T).T - self.reg * x[:, : self.M]
        )
        if self.davidson:
            g[:, self.M] = g_e.sum(axis=1) - ETA_REG * x[:, self.M]
        if not hessian:
            return g, None
        H = np.zeros((B, self.dim, self.dim))
        H[:, self.I, self.J] = -h_dd
        H[:, self.J, self.I] = -h_dd
        diag = (self.absD.T @ h_dd.T).T - self.reg
        idx = np.arange(self.M)
        H[:, idx, idx] = diag
        if self.davidson:
            cross = (self.D.T @ h_de.T).T
            H[:, : self.M, self.M] = cross
            H[:, self.M, : self.M] = cross
            H[:, self.M, self.M] = h_ee.sum(axis=1) - ETA_REG
        return g, H


def newton(problem: Problem, x0: Any, max_iter: int = 100, tol: float = 1e-8) -> tuple[Arr, int, Arr]:
    """Damped Newton ascent for each row of the batch; returns (x, iterations, converged mask)."""
    x = np.array(x0, dtype=float, copy=True)
    obj = problem.objective(x)
    done = np.zeros(x.shape[0], dtype=bool)
    it = 0
    for it in range(1, max_iter + 1):  # noqa: B007 (the count of iterations taken is returned)
        act = ~done
        sub = problem.take(act)
        g, H = sub.derivatives(x[act])
        step = np.linalg.solve(-H, g[..., None])[..., 0]
        t = np.ones(step.shape[0])
        base = obj[act]
        xa = x[act]
        for _ in range(30):
            cand = xa + t[:, None] * step
            val = sub.objective(cand)
            bad = ~(val >= base - 1e-12 * np.abs(base))
            if not bad.any():
                break
            t[bad] *= 0.5
        xa = xa + t[:, None] * step
        x[act] = xa
        obj[act] = sub.objective(xa)
        small = np.abs(t[:, None] * step).max(axis=1) < tol
        idx = np.flatnonzero(act)
        done[idx[small]] = True
        if done.all():
            break
    return x, it, done


def fixed_hessian_solve(problem: Problem, x0: Arr, H0: Arr, max_iter: int = 60, tol: float = 1e-5) -> Arr:
    """Solve many nearby problems (bootstrap resamples) with the point estimate's Hessian.

    Each iteration is one gradient and one matrix product, so B resamples cost
    about as much as B gradient evaluations; rows that have not converged after
    ``max_iter`` (e.g. a resample where a model lost all its battles) finish with
    full damped Newton."""
    dtype = getattr(problem, "W", np.zeros(0)).dtype if hasattr(problem, "W") else np.float64
    Hinv = np.linalg.inv(-H0).astype(dtype)
    x = np.array(x0, dtype=dtype, copy=True)
    B = x.shape[0]
    done = np.zeros(B, dtype=bool)
    stuck = np.zeros(B, dtype=bool)
    prev = np.full(B, np.inf)
    for _ in range(max_iter):
        mask = ~done & ~stuck
        act = np.flatnonzero(mask)
        if act.size == 0:
            break
        if 2 * act.size >= B:  # most rows still move: cheaper to evaluate all than to copy the active counts
            g, _ = problem.derivatives(x, hessian=False)
            g = g[act]
        else:
            g, _ = problem.take(mask).derivatives(x[act], hessian=False)
        step = g.astype(dtype, copy=False) @ Hinv
        size = np.abs(step).max(axis=1)
        diverging = size > 1.5 * prev[act]
        stuck[act[diverging]] = True
        ok = ~diverging
        x[act[ok]] += step[ok]
        prev[act] = size
        done[act[ok & (size < tol)]] = True
    rest = ~done
    if rest.any():
        xr, _, _ = newton(problem.take(rest), x[rest].astype(np.float64))
        x[rest] = xr
    return x


def fit_pairs(
    pairs: Arr,
    M: int,
    W: Any,
    L: Any,
    T: Any,
    ties: str = "half",
    reg: float = DEFAULT_REG,
    x0: Arr | None = None,
    max_iter: int = 100,
    tol: float = 1e-9,
) -> tuple[Arr, float | None, Arr, int]:
    """Point estimate (B = 1): returns (theta (M,), eta or None, Hessian, iterations)."""
    prob = PairProblem(pairs, M, W, L, T, ties=ties, reg=reg)
    if x0 is None:
        x0 = np.zeros(prob.dim)
        if prob.davidson:
            x0[M] = -1.0
    x, it, _ = newton(prob, np.atleast_2d(x0), max_iter=max_iter, tol=tol)
    _, H = prob.derivatives(x)
    assert H is not None
    x = x[0]
    return x[:M], (x[M] if prob.davidson else None), H[0], it


def bootstrap_pairs(
    pairs: Arr,
    M: int,
    W: Any,
    L: Any,
    T: Any,
    x_hat: Arr,
    H_hat: Arr,
    ties: str = "half",
    reg: float = DEFAULT_REG,
) -> Arr:
    """Fit B resamples given as (B, P) count arrays, warm-started at the point estimate."""
    prob = PairProblem(pairs, M, W, L, T, ties=ties, reg=reg)
    x0 = np.repeat(np.atleast_2d(x_hat), prob.W.shape[0], axis=0)
    return fixed_hessian_solve(prob, x0, H_hat)
