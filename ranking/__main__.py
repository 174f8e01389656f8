"""Command line: ``python -m ranking fit ...`` and ``python -m ranking simulate ...`` (no Django).

fit: prints JSON rows (model, rating, ci_low, ci_high, rank_ub, n, ...) best first; stderr says
which intervals they are (Laplace without --bootstrap; bootstrap; the Bayesian posterior).
Start-up stays lean: numpy, and pyarrow for a battle dump; scipy only where a fit needs it.
simulate: prints JSON with, per method × policy × K, Kendall's tau against the truth as votes accrue.
"""

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

T = TypeVar("T")

METHODS = ("elo", "bt", "pl", "bayes")  # ranking.leaderboard.METHODS, without importing it for --help
POLICIES = ("uniform", "weighted", "adaptive")  # ranking.matchmaking.POLICIES


def _anchor(text: str) -> tuple[str, float]:
    name, sep, score = text.rpartition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"--anchor must look like MODEL=SCORE, got {text!r}")
    try:
        return name, float(score)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--anchor score must be a number, got {score!r}") from None


def _csv(kind: Callable[[str], T]) -> Callable[[str], list[T]]:
    def parse(text: str) -> list[T]:
        items = [x.strip() for x in text.split(",") if x.strip()]
        return [kind(x) for x in items]

    return parse


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m ranking", description="PrefArena rating engine.")
    sub = parser.add_subparsers(dest="command", required=True)
    fit = sub.add_parser("fit", help="fit a leaderboard from a JSONL file of judgments")
    fit.add_argument("--input", required=True, help="JSONL of ranking records or Chatbot Arena clean battles")
    fit.add_argument("--method", choices=METHODS, default="bt")
    fit.add_argument("--bootstrap", type=int, default=0, help="bootstrap resamples for 95%% intervals")
    fit.add_argument("--style-control", action="store_true", help="control for length and markdown (bt only)")
    fit.add_argument("--anchor", type=_anchor, help="MODEL=SCORE: shift the scale so MODEL has SCORE")
    fit.add_argument(
        "--ties",
        choices=("auto", "half", "davidson"),
        default="auto",
        help="auto: Davidson's tie model for bt on pairwise data with ties, else half a win each; "
        "half: Chatbot Arena / FastChat parity",
    )
    fit.add_argument(
        "--both-bad", choices=("tie", "drop"), default="tie", help="Chatbot Arena 'tie (bothbad)'"
    )
    fit.add_argument(
        "--skip-bad",
        action="store_true",
        help="skip bad records (not JSON, missing fields, unknown winner) and count them on stderr",
    )
    fit.add_argument("--min-votes", type=int, default=10)
    fit.add_argument("--k-factor", type=float, default=4.0, help="online Elo K (method elo)")
    fit.add_argument("--seed", type=int, default=0)
    fit.add_argument("--full", action="store_true", help="print method, params and style coefficients too")

    sim = sub.add_parser(
        "simulate", help="convergence of each method on synthetic arenas with known strengths"
    )
    sim.add_argument("--models", type=int, default=20)
    sim.add_argument("--k", type=_csv(int), default=[2, 4], help="comma-separated K values")
    sim.add_argument("--votes", type=int, default=4000)
    sim.add_argument("--noise", type=float, default=1.0, help="Gumbel noise scale (1 = Plackett–Luce)")
    sim.add_argument("--spread", type=float, default=1.0, help="sd of the true strengths (logits)")
    sim.add_argument("--tie-margin", type=float, default=0.0)
    sim.add_argument("--methods", type=_csv(str), default=list(METHODS))
    sim.add_argument(
        "--policies", type=_csv(str), default=["uniform", "adaptive"], help=f"of {', '.join(POLICIES)}"
    )
    sim.add_argument(
        "--seeds", type=int, default=8, help="arenas per configuration (the median needs several)"
    )
    sim.add_argument("--jobs", type=int, default=1, help="arenas simulated in parallel processes")
    sim.add_argument("--every", type=int, default=50)
    sim.add_argument("--target", type=float, default=0.9)
    sim.add_argument("--k-factor", type=float, default=16.0, help="online Elo K in the simulation")
    sim.add_argument("--plot", help="save the tau curves as a PNG here")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    out: Any
    try:
        if args.command == "fit":
            out = _fit(args)
        else:
            out = _simulate(args)
    except (ValueError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    json.dump(out, sys.stdout, indent=1)
    sys.stdout.write("\n")
    return 0


def _fit(args: argparse.Namespace) -> Any:
    from .leaderboard import fit_leaderboard
    from .records import SHOW_SKIPPED, read_dump

    dump = read_dump(
        args.input,
        both_bad=args.both_bad,
        skip_bad=args.skip_bad,
        style=args.style_control,
        keep_order=args.method in ("elo", "bayes"),
    )
    if dump.skipped:
        shown = "; ".join(f"line {line}: {reason}" for line, reason in dump.skipped[:SHOW_SKIPPED])
        print(f"skipped {len(dump.skipped)} bad record(s) of {dump.records}: {shown}", file=sys.stderr)
    if args.style_control and dump.features is None:
        raise ValueError("--style-control needs features on every record (conv_metadata or 'features').")
    weights = dump.weights
    weighted = weights is not None and any(w != 1.0 for w in weights)
    result = fit_leaderboard(
        dump.judgments,
        method=args.method,
        weights=weights if weighted else None,
        features=dump.features if args.style_control else None,
        style_control=args.style_control,
        bootstrap=args.bootstrap,
        min_votes=args.min_votes,
        anchor=args.anchor,
        ties=args.ties,
        seed=args.seed,
        k_factor=args.k_factor,
        interval="laplace",
    )
    params = result.params
    print(
        f"{params['judgments']} judgments, {params['interval']} intervals ({params['interval_note']}); "
        f"ties: {params['ties']}",
        file=sys.stderr,
    )
    if args.full:
        out = result.as_dict()
        out["skipped"] = len(dump.skipped)
        return out
    return result.row_dicts()


def _simulate(args: argparse.Namespace) -> dict[str, Any]:
    from .simulate import simulate

    for p in args.policies:
        if p not in POLICIES:
            raise ValueError(f"Unknown policy {p!r}; choose from {', '.join(POLICIES)}.")
    for m in args.methods:
        if m not in METHODS:
            raise ValueError(f"Unknown method {m!r}; choose from {', '.join(METHODS)}.")
    results = simulate(
        methods=args.methods,
        policies=args.policies,
        ks=args.k,
        seeds=args.seeds,
        n_models=args.models,
        votes=args.votes,
        noise=args.noise,
        spread=args.spread,
        tie_margin=args.tie_margin,
        every=args.every,
        k_factor=args.k_factor,
        target=args.target,
        jobs=max(1, args.jobs),
    )
    if args.plot:
        plot_curves(results, args.plot, args.target)
    return {"settings": {k: v for k, v in vars(args).items() if k != "command"}, "results": results}


def plot_curves(results: list[dict[str, Any]], path: str, target: float = 0.9) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ks = sorted({r["k"] for r in results})
    fig, axes = plt.subplots(1, len(ks), figsize=(6 * len(ks), 4.5), squeeze=False, sharey=True)
    for ax, k in zip(axes[0], ks):
        for r in results:
            if r["k"] != k:
                continue
            style = "-" if r["policy"] == "adaptive" else ("--" if r["policy"] == "uniform" else ":")
            conv = r["median_votes_to_converge"]
            label = f"{r['method']} {r['policy']} ({'never' if conv is None else int(conv)})"
            ax.plot(r["votes"], r["tau_mean"], style, label=label)
        ax.axhline(target, color="grey", lw=0.8)
        ax.set_title(f"K = {k}: Kendall tau vs votes (median votes to stay >= {target})")
        ax.set_xlabel("votes")
        ax.set_ylim(0, 1)
        ax.legend(fontsize=8)
    axes[0][0].set_ylabel("Kendall tau against the true strengths")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    sys.exit(main())
