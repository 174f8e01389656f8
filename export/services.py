"""Writes for exports: judgments → dataset files and a dataset card (orchestration only).

``export_preferences`` is the one place an export runs; the command, the API and the page all end
here. One pipeline::

    annotation.judgment_pages  →  export.policies units  →  rows (export.columnar, or export.rows
    for aggregation, listwise and ratings)  →  export.writers  →  export.card

It writes into a hidden temporary folder beside the destination and renames it into place only
when every file is complete, so a failure never leaves a partial dataset behind. Permissions are
export.permissions; the job lifecycle is export.jobs."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from annotation.judgment_pages import judgment_pages, with_continued_turns
from annotation.quality import annotator_reliability
from annotation.routing_records import routing_reasons, routing_summaries

from . import columnar, formats, rows, selectors
from .card import ExportStats, card_text, summary
from .options import parse_options
from .permissions import export_scope
from .policies import LengthBalancer
from .writers import SplitFiles

if TYPE_CHECKING:
    from django.contrib.auth.models import User
    from django.db.models import Q

    from .options import ExportOptions

SPLITS = ("train", "test")


class ExportPathError(ValueError):
    """The output folder cannot be written."""


def export_preferences(
    options: Any,  # ExportOptions, or a dict for parse_options
    out_dir: str | os.PathLike[str],
    *,
    overwrite: bool = False,
    progress: Callable[[int, int, int | None], object] | None = None,
    user: User | None = None,
    page_size: int = 10_000,
) -> dict[str, Any]:
    """Write the dataset for ``options`` (ExportOptions or a dict) into ``out_dir``.

    ``user`` is who exports (see export.permissions.export_scope); None is the command line, which
    reads everything. Returns a dict: {"out_dir", "files" (relative paths), "summary"}.
    ``progress`` is called as progress(judgments_read, rows_written, judgments_total) after each
    page of ``page_size`` judgments. Raises ExportOptionsError, ExportNotAllowed or ExportPathError
    with a sentence; nothing is left behind on any failure."""
    if isinstance(options, dict):
        options = parse_options(options)
    scope, scope_text = export_scope(user, options)
    out_dir = Path(out_dir).expanduser().absolute()
    _check_destination(out_dir, overwrite)
    try:
        tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.partial-", dir=out_dir.parent))
    except OSError as exc:
        raise ExportPathError(f"Cannot write into {out_dir.parent}: {exc.strerror or exc}.") from exc
    writers: dict[str, SplitFiles] = {}
    try:
        (tmp / "data").mkdir()
        schema = formats.arrow_schema(options)
        writers = {split: SplitFiles(tmp / "data", split, options.file_format, schema) for split in SPLITS}
        stats = ExportStats(scope=scope_text)
        total = selectors.count_judgments(options, scope) if progress else None
        balancers = {split: LengthBalancer(options.max_chosen_longer_rate) for split in SPLITS}
        report = (
            (lambda: progress(stats.judgments_read, sum(stats.rows.values()), total)) if progress else None
        )
        _write_pages(options, scope, page_size, writers, stats, balancers, report)
        result_summary, files = _finish(options, tmp, writers, stats, balancers)
        if progress:
            progress(stats.judgments_read, result_summary["rows_total"], total)
        _move_into_place(tmp, out_dir)
    except BaseException:
        for writer in writers.values():
            writer.abort()
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return {"out_dir": str(out_dir), "files": files, "summary": result_summary}


def _finish(
    options: ExportOptions,
    tmp: Path,
    writers: Mapping[str, SplitFiles],
    stats: ExportStats,
    balancers: Mapping[str, LengthBalancer],
) -> tuple[dict[str, Any], list[str]]:
    """Close the files and write the dataset card; returns (summary, file paths)."""
    for split, balancer in balancers.items():
        if balancer.dropped:
            stats.dropped[f"length balancing ({split})"] += balancer.dropped
    splits = [s for s in SPLITS if writers[s].rows] or ["train"]
    for split in SPLITS:
        writers[split].close(keep_empty=split in splits)
    stats.rows = type(stats.rows)({s: stats.rows.get(s, 0) for s in splits})
    result_summary = summary(stats)
    suffixes = [cls.suffix for cls in writers["train"].classes]
    configs = [("default" if i == 0 else suffix, suffix) for i, suffix in enumerate(suffixes)]
    (tmp / "README.md").write_text(
        card_text(
            options,
            {"configs": configs, "splits": splits},
            result_summary,
            routing_summaries(options.campaigns) if options.source == "routed" else (),
        ),
        encoding="utf-8",
    )
    files = sorted(str(p.relative_to(tmp)) for p in tmp.rglob("*") if p.is_file())
    return result_summary, files


def _write_pages(
    options: ExportOptions,
    scope: Q | None,
    page_size: int,
    writers: Mapping[str, SplitFiles],
    stats: ExportStats,
    balancers: Mapping[str, LengthBalancer],
    report: Callable[[], object] | None,
) -> None:
    """Every page of judgments through the policies into the writers."""
    state = columnar.ExportState(options, balancers)
    needs_reliability = options.aggregate == "weighted" or options.min_reliability is not None
    judgments = selectors.filtered_judgments(options, scope)
    for page_judgments, shown in judgment_pages(judgments, page_size, with_campaign=needs_reliability):
        if options.format == "dpo-chat":
            shown = with_continued_turns(shown)  # multi-turn battles write the whole conversation
        reliability = None
        if needs_reliability:
            page_judgments, reliability = _reliability(state, page_judgments, stats)
        if options.source == "routed":
            state.routing = routing_reasons(np.unique(page_judgments["comparison_id"].to_numpy()).tolist())
        page = columnar.Page(state, page_judgments, shown, stats)
        if columnar.applies(options):
            for split, table in columnar.page_tables(state, page, stats):
                writers[split].write_table(table)
                stats.rows[split] += table.num_rows
        else:
            for split, row in rows.page_rows(state, page, reliability, stats):
                writers[split].write(row)
        if report:
            report()


def _reliability(
    state: columnar.ExportState, judgments: pa.Table, stats: ExportStats
) -> tuple[pa.Table, list[float | None]]:
    """Each judgment's annotator reliability (annotation.quality, asked once per author and
    campaign in an export), without those below --min-reliability. Unknown reliability (None: no
    evidence yet, or an AI judge) passes the filter. Returns (the kept judgments, their reliability)."""
    options, cache = state.options, state.reliability
    values: list[float | None] = []
    for annotator, campaign in zip(
        judgments["annotator_id"].to_pylist(), judgments["campaign_id"].to_pylist()
    ):
        if annotator is None:
            values.append(None)
            continue
        key = (annotator, campaign)
        if key not in cache:
            cache[key] = annotator_reliability(annotator, campaign)
        values.append(cache[key])
    keep = [options.min_reliability is None or v is None or v >= options.min_reliability for v in values]
    dropped = keep.count(False)
    if dropped:
        stats.dropped["annotator reliability below minimum (judgments)"] += dropped
        # Read, though dropped: the page counts only what it keeps.
        stats.judgments_read += dropped
        before = set(judgments["comparison_id"].to_pylist())
        judgments = judgments.filter(pa.array(keep))
        stats.comparisons_read += len(before - set(judgments["comparison_id"].to_pylist()))
        values = [v for v, k in zip(values, keep) if k]
    stats.unknown_reliability += sum(v is None for v in values)
    return judgments, values


def _check_destination(out_dir: Path, overwrite: bool) -> None:
    parent = out_dir.parent
    if out_dir.exists() and not out_dir.is_dir():
        raise ExportPathError(f"{out_dir} is a file; give a folder path for the dataset.")
    if out_dir.is_dir() and any(out_dir.iterdir()) and not overwrite:
        raise ExportPathError(
            f"{out_dir} already exists and is not empty; choose another path or allow overwriting."
        )
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ExportPathError(f"Cannot create the folder {parent}: {exc.strerror or exc}.") from exc
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ExportPathError(f"Cannot write into {parent}: permission denied.")


def _move_into_place(tmp: Path, out_dir: Path) -> None:
    old = None
    if out_dir.exists():
        old = out_dir.with_name(f".{out_dir.name}.old-{uuid.uuid4().hex[:8]}")
        out_dir.rename(old)
    tmp.rename(out_dir)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
