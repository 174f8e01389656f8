"""python manage.py export_preferences --format dpo --out PATH [policies] [filters]"""

import os

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from export.hub import REPO_ID, push_to_hub
from export.options import (
    AGGREGATIONS,
    FILE_FORMATS,
    FORMATS,
    MARGINS,
    OPTION_NAMES,
    RANK_BREAKING,
    SOURCES,
    TIE_POLICIES,
    ExportOptionsError,
)
from export.services import ExportPathError, export_preferences


class Command(BaseCommand):
    help = "Export judgments as a training dataset (TRL formats) with a dataset card."

    def add_arguments(self, parser):
        parser.add_argument("--format", required=True, help=f"One of: {', '.join(FORMATS)}.")
        parser.add_argument(
            "--out", required=True, help="Folder to write (README.md + data/train.*, data/test.*)."
        )
        parser.add_argument("--file-format", default="jsonl", help=f"One of: {', '.join(FILE_FORMATS)}.")
        parser.add_argument("--overwrite", action="store_true", help="Replace a non-empty --out folder.")
        policies = parser.add_argument_group("policies")
        policies.add_argument(
            "--ties", default="drop", help=f"Ties and 'none acceptable': {', '.join(TIE_POLICIES)}."
        )
        policies.add_argument(
            "--rank-breaking", default="all-pairs", help=f"K-wise: {', '.join(RANK_BREAKING)}."
        )
        policies.add_argument(
            "--aggregate", default="none", help=f"Across annotators: {', '.join(AGGREGATIONS)}."
        )
        policies.add_argument(
            "--min-agreement", default=None, help="Drop rows whose agreement is below this (0-1)."
        )
        policies.add_argument("--margin", default="none", help=f"Margin column: {', '.join(MARGINS)}.")
        policies.add_argument(
            "--max-chosen-longer-rate",
            default=None,
            help="Length balancing: cap the share of pairs whose chosen answer is longer (0-1).",
        )
        policies.add_argument(
            "--test-fraction", default=None, help="Share of prompts in the test split (0-1)."
        )
        policies.add_argument("--seed", default=None, help="Seed of the prompt-grouped split.")
        filters = parser.add_argument_group("filters")
        filters.add_argument("--arena", default="", help="Only battles of this arena (slug).")
        filters.add_argument(
            "--since", default=None, help="Judgments made at or after (date or ISO date-time)."
        )
        filters.add_argument(
            "--until", default=None, help="Judgments made at or before (a bare date counts whole)."
        )
        filters.add_argument("--source", default="both", help=f"One of: {', '.join(SOURCES)}.")
        filters.add_argument(
            "--min-confidence", default=None, help="Only judgments with at least this confidence."
        )
        filters.add_argument(
            "--models", default="", help="Comma-separated model names; rows with others are left out."
        )
        filters.add_argument(
            "--blind-only", action="store_true", help="Only votes made while identities were hidden."
        )
        filters.add_argument(
            "--exclude-guests",
            action="store_true",
            help="Leave out arena guests' votes (session-bound voters without an account).",
        )
        filters.add_argument(
            "--campaign",
            action="append",
            default=[],
            dest="campaigns",
            metavar="SLUG",
            help="Only judgments of this campaign; repeat it or separate slugs with commas.",
        )
        filters.add_argument(
            "--min-reliability",
            default=None,
            help="Drop judgments whose annotator's reliability (0-1) is below this; annotators "
            "with no reliability yet, and AI judges, are kept.",
        )
        parser.add_argument("--license", default="other", help="License field of the dataset card.")
        parser.add_argument("--no-progress", action="store_true", help="No progress bar.")
        parser.add_argument(
            "--push-to-hub",
            default="",
            metavar="OWNER/NAME",
            help="Then upload the folder to this Hub dataset repo (private; needs HF_TOKEN).",
        )

    def handle(self, *args, **o):
        if o["push_to_hub"]:  # say what is wrong before the export, not after it
            if not REPO_ID.match(o["push_to_hub"]):
                raise CommandError(
                    f"{o['push_to_hub']!r} is not a Hub repository id; use the form owner/name."
                )
            if not os.environ.get("HF_TOKEN"):
                raise CommandError(
                    "No Hugging Face token: set HF_TOKEN in the environment to push to the Hub."
                )
        data = {key: o[key] for key in OPTION_NAMES}
        bar = None

        def progress(read, written, total):
            nonlocal bar
            if bar is None:
                bar = tqdm(
                    total=total, unit="judgments", desc="export", file=self.stderr._out, dynamic_ncols=True
                )
            bar.n = read
            bar.set_postfix(rows=written, refresh=False)
            bar.refresh()

        try:
            # The command line is an operator's: it may read every campaign (see export_scope).
            result = export_preferences(
                data, o["out"], overwrite=o["overwrite"], progress=None if o["no_progress"] else progress
            )
        except (ExportOptionsError, ExportPathError) as exc:
            raise CommandError(str(exc)) from exc
        finally:
            if bar is not None:
                bar.close()
        s = result["summary"]
        rows = ", ".join(f"{split} {count}" for split, count in s["rows"].items())
        self.stdout.write(
            f"Wrote {s['rows_total']} rows ({rows}) from {s['judgments_read']} judgments to "
            f"{result['out_dir']}."
        )
        if o["push_to_hub"] and s["rows_total"]:
            try:
                self.stdout.write(f"Pushed to {push_to_hub(result['out_dir'], o['push_to_hub'])}")
            except Exception as exc:  # network, auth, quota: the local export stands either way
                raise CommandError(
                    f"The export is in {result['out_dir']}, but the push failed: {exc}"
                ) from exc
        if s["rows_total"] == 0:
            self.stdout.write(
                "The export is empty: no judgment matched the filters and policies (see README.md). "
                "datasets.load_dataset refuses empty splits; read the Parquet file with pyarrow."
            )
