"""Export throughput and peak memory on PostgreSQL: N judgments → dpo JSONL and Parquet.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/prefarena_export_bench \\
        .venv/bin/python bench/export_dpo.py --sizes 100000,1000000

Seeds the database with COPY (two annotators judge each K=2 comparison; 1 in 10 votes
is a tie, dropped by the default policy), then for each size runs each export in a
fresh child process so its peak RSS is its own. The baselines, measured in the same run:
the bare server-side-cursor read of the same judgment columns through the ORM (no policy, no
writing), and with --python-rows the same export with --aggregate majority, which takes the
Python rows (export.rows: one dictionary per row) on the same pages."""

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/prefarena_export_bench")

PROMPTS = 50_000
WORDS = "the quick brown fox jumps over a lazy dog while rain falls on green fields and rivers run".split()


def _setup():
    import django

    django.setup()


def _ensure_database():
    import psycopg

    url = os.environ["DATABASE_URL"]
    name = url.rsplit("/", 1)[1]
    with psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def _text(i, n):
    return " ".join(WORDS[(i * 7 + j) % len(WORDS)] for j in range(n))


def seed(target):
    """Grow the database to `target` judgments (two per comparison)."""
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connection

    from annotation.models import Judgment
    from bench.seeding import copy_rows, finish
    from inference.models import ModelEndpoint

    call_command("migrate", verbosity=0)
    have = Judgment.objects.count()
    if have >= target:
        return have
    users = [get_user_model().objects.get_or_create(username=f"bench-rater-{i}")[0] for i in range(2)]
    models = [
        ModelEndpoint.objects.get_or_create(name=f"bench-model-{i}", defaults={"path": "/unused"})[0]
        for i in range(2)
    ]
    started = time.perf_counter()
    with connection.cursor() as cursor:
        raw = cursor.connection
        first_prompt = raw.execute("SELECT COALESCE(MAX(id), 0) FROM inference_prompt").fetchone()[0] + 1
        c0 = raw.execute("SELECT COALESCE(MAX(id), 0) FROM annotation_comparison").fetchone()[0] + 1
        r0 = raw.execute("SELECT COALESCE(MAX(id), 0) FROM inference_response").fetchone()[0] + 1
        j0 = raw.execute("SELECT COALESCE(MAX(id), 0) FROM annotation_judgment").fetchone()[0] + 1
        s0 = raw.execute("SELECT COALESCE(MAX(id), 0) FROM annotation_comparisonslot").fetchone()[0] + 1
        new_comparisons = (target - have + 1) // 2
        prompt_ids = list(range(first_prompt, first_prompt + min(PROMPTS, new_comparisons)))
        with raw.cursor() as cur:
            copy_rows(
                cur,
                "inference_prompt",
                ("id", "conversation", "created_at"),
                (
                    (
                        pid,
                        json.dumps([{"role": "user", "content": f"question {pid}: {_text(pid, 12)}"}]),
                        "2026-01-01T00:00:00Z",
                    )
                    for pid in prompt_ids
                ),
            )
            copy_rows(
                cur,
                "inference_response",
                (
                    "id",
                    "prompt_id",
                    "endpoint_id",
                    "status",
                    "text",
                    "error",
                    "generation_params",
                    "created_at",
                ),
                (
                    (
                        r0 + 2 * c + p,
                        prompt_ids[c % len(prompt_ids)],
                        models[p].pk,
                        "done",
                        _text(c + p, 20 + (c * 13 + p * 29) % 60),
                        "",
                        "{}",
                        "2026-01-01T00:00:00Z",
                    )
                    for c in range(new_comparisons)
                    for p in range(2)
                ),
            )
            copy_rows(
                cur,
                "annotation_comparison",
                ("id", "prompt_id", "k", "created_at"),
                (
                    (c0 + c, prompt_ids[c % len(prompt_ids)], 2, "2026-01-01T00:00:00Z")
                    for c in range(new_comparisons)
                ),
            )
            copy_rows(
                cur,
                "annotation_comparisonslot",
                ("id", "comparison_id", "position", "response_id"),
                (
                    (s0 + 2 * c + p, c0 + c, p, r0 + 2 * c + p)
                    for c in range(new_comparisons)
                    for p in range(2)
                ),
            )
            rankings = ["[[0], [1]]", "[[1], [0]]", "[[0], [1]]", "[[0, 1]]"] + ["[[1], [0]]"] * 6

            def judgments():
                for c in range(new_comparisons):
                    for a in range(2):
                        n = 2 * c + a
                        yield (
                            j0 + n,
                            c0 + c,
                            rankings[n % 10],
                            False,
                            1 + n % 2,
                            "{}",
                            1 + n % 3,
                            '["clear"]' if n % 5 == 0 else "[]",
                            "" if n % 4 else "More precise.",
                            "human",
                            users[a].pk,
                            "",
                            True,
                            "v1",
                            "2026-01-02T00:00:00Z",
                        )

            copy_rows(
                cur,
                "annotation_judgment",
                (
                    "id",
                    "comparison_id",
                    "ranking",
                    "none_acceptable",
                    "strength",
                    "aspects",
                    "confidence",
                    "reason_tags",
                    "rationale",
                    "source",
                    "annotator_id",
                    "judge_prompt_version",
                    "identities_hidden",
                    "rubric_version",
                    "created_at",
                ),
                judgments(),
            )
        finish(raw)
    count = Judgment.objects.count()
    print(f"seeded to {count} judgments in {time.perf_counter() - started:.1f} s", flush=True)
    return count


def child(mode, limit, file_format, out):
    """Runs in a fresh process; prints one JSON line with its figures."""
    from django.db import connection

    from annotation.models import Judgment
    from export.services import export_preferences

    last_id = Judgment.objects.order_by("id").values_list("id", flat=True)[limit - 1]
    started = time.perf_counter()
    if mode == "baseline":
        rows = 0
        with connection.cursor():
            qs = (
                Judgment.objects.filter(id__lte=last_id)
                .order_by("comparison_id", "id")
                .values_list(
                    "id",
                    "comparison_id",
                    "ranking",
                    "none_acceptable",
                    "strength",
                    "confidence",
                    "rationale",
                    "reason_tags",
                    "source",
                    "annotator_id",
                    "judge__name",
                    "judge_prompt_version",
                    "rubric_version",
                    "identities_hidden",
                    "created_at",
                    "aspects",
                )
            )
            for _ in qs.iterator(chunk_size=2000):
                rows += 1
        judgments = rows
    else:
        # The database holds exactly the judgments of this size (sizes are seeded in ascending order).
        # "export" makes columnar rows (pairs, every judgment its own rows); "rows" aggregates by
        # majority, which makes Python rows (export.rows) from the same pages.
        options = {"format": "dpo", "file_format": file_format}
        result = export_preferences({**options, "aggregate": "majority"} if mode == "rows" else options, out)
        rows = result["summary"]["rows_total"]
        judgments = result["summary"]["judgments_read"]
    seconds = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        json.dumps(
            {
                "mode": mode,
                "file_format": file_format,
                "judgments": judgments,
                "rows": rows,
                "seconds": seconds,
                "peak_rss_mb": peak_mb,
            }
        )
    )


def run_child(mode, limit, file_format, out):
    output = subprocess.run(
        [sys.executable, __file__, "--child", mode, str(limit), file_format, str(out)],
        check=True,
        capture_output=True,
        text=True,
        env=os.environ,
    ).stdout
    return json.loads(output.strip().splitlines()[-1])


def _load():
    """The machine is shared: say how busy it was (1, 5, 15-minute load averages)."""
    return "load average " + ", ".join(f"{x:.1f}" for x in os.getloadavg())


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="100000,1000000", help="Judgment counts, ascending.")
    parser.add_argument("--formats", default="jsonl,parquet")
    parser.add_argument(
        "--python-rows",
        action="store_true",
        help="Also time --aggregate majority (Python rows on the same pages) in the same run.",
    )
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _setup()
        mode, limit, file_format, out = args.child
        child(mode, int(limit), file_format, out)
        return
    _ensure_database()
    _setup()
    print(f"database: {os.environ['DATABASE_URL']}; cores: {os.cpu_count()}; {_load()}", flush=True)
    for size in [int(s) for s in args.sizes.split(",")]:
        count = seed(size)
        if count != size:
            print(f"(the database holds {count} judgments; the export reads them all)")
        base = run_child("baseline", count, "-", "-")
        base_rate = base["judgments"] / base["seconds"]
        print(
            f"\n{count:,} judgments  baseline (bare cursor read): {base_rate:,.0f} judgments/s, "
            f"peak {base['peak_rss_mb']:.0f} MB",
            flush=True,
        )
        for file_format in args.formats.split(","):
            rates = {}
            for mode in ("rows", "export") if args.python_rows else ("export",):
                with tempfile.TemporaryDirectory(prefix="export-bench-") as tmp:
                    r = run_child(mode, count, file_format, Path(tmp) / "ds")
                rate = rates[mode] = r["rows"] / r["seconds"]
                versus = (
                    f", {rate / rates['rows']:.1f}× the Python rows"
                    if mode == "export" and "rows" in rates
                    else ""
                )
                label = "majority" if mode == "rows" else "columnar"
                print(
                    f"  dpo {file_format:8s} {label:8s} {r['rows']:>9,} rows in {r['seconds']:6.1f} s = "
                    f"{rate:>8,.0f} rows/s ({r['judgments'] / r['seconds'] / base_rate:.2f}× the bare read{versus}), "
                    f"peak {r['peak_rss_mb']:.0f} MB; {_load()}",
                    flush=True,
                )


if __name__ == "__main__":
    main()
