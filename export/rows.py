"""Python rows for the formats that need them: aggregation across annotators (pair formats with
--aggregate majority or weighted), listwise and ratings. They read the same pages as the columnar
formats (export.columnar.Page, already checked for valid rankings) and the same policies
(export.policies), one comparison at a time."""

from collections import namedtuple

import numpy as np

from . import formats
from .arrays import json_value
from .policies import aggregate_units, share

JudgmentRow = namedtuple(
    "JudgmentRow",
    "id ranking none_acceptable strength confidence rationale reason_tags source annotator_id judge_name "
    "judge_prompt_version rubric_version identities_hidden created_at aspects guest reliability",
)
"""One valid judgment as a Python row reads it (``ranking`` decoded, shared by equal rankings)."""
Shown = namedtuple("Shown", "model text")
_COLUMNS = (
    "id",
    "none_acceptable",
    "strength",
    "confidence",
    "rationale",
    "reason_tags",
    "source",
    "annotator_id",
    "judge_name",
    "judge_prompt_version",
    "rubric_version",
    "identities_hidden",
    "created_at",
    "aspects",
    "guest",
)


class ComparisonGroup:
    """One comparison with its shown responses and its valid judgments in id order.

    ``cache`` holds per-comparison work (the prompt as text or messages) that its rows share;
    ``routing`` is (destination, reason, policy) in routed exports; ``turns`` the positions'
    later messages of a multi-turn conversation."""

    __slots__ = (
        "id",
        "prompt_id",
        "conversation",
        "created_at",
        "shown",
        "judgments",
        "cache",
        "routing",
        "turns",
    )

    def __init__(self, id, prompt_id, conversation, created_at, shown, judgments, routing=None, turns=None):
        self.id, self.prompt_id, self.conversation = id, prompt_id, conversation
        self.created_at, self.shown, self.judgments = created_at, shown, judgments
        self.cache = {}
        self.routing, self.turns = routing, turns


def page_rows(state, page, reliability, stats):
    """(split, row dict) for every row of one page, comparison by comparison."""
    for group in _groups(state, page, reliability):
        split = state.split_of(group.prompt_id, group.conversation)
        for row in _rows(state.options, group, stats, state.balancers[split]):
            stats.rows[split] += 1
            stats.sources[row["source"]] += 1
            yield split, row


def _groups(state, page, reliability):
    j = page.judgments
    values = {name: j[name].to_pylist() for name in _COLUMNS}
    for name in ("reason_tags", "aspects"):
        values[name] = [None if v is None else json_value(v) for v in values[name]]
    infos = [page.infos[c] if c < len(page.infos) else None for c in page.r_codes.tolist()]
    heads = {
        name: j[name].to_pylist()
        for name in ("prompt_id", "comparison_created_at", "prompt_role", "prompt_content", "conversation")
    }
    shown = page.shown
    s_pos, s_model, s_text = (shown[n].to_pylist() for n in ("position", "model", "text"))
    s_turns = shown["turns"].to_pylist() if "turns" in shown else None
    cids = page.cid.tolist()
    valid = page.valid.tolist()
    for c, first in enumerate(np.searchsorted(page.cid, page.comparisons).tolist()):
        cid = cids[first]
        end = first
        while end < len(cids) and cids[end] == cid:
            end += 1
        judgments = [
            JudgmentRow(
                values["id"][i],
                infos[i].ranking,
                *(values[name][i] for name in _COLUMNS[1:]),
                reliability[i] if reliability is not None else None,
            )
            for i in range(first, end)
            if valid[i]
        ]
        if not judgments:
            continue
        start = int(page.s_start[c])
        slots = range(start, start + int(page.s_count[c]))
        group_shown = {s_pos[s]: Shown(s_model[s], s_text[s]) for s in slots}
        turns = {s_pos[s]: json_value(s_turns[s]) for s in slots if s_turns[s]} if s_turns else None
        if heads["prompt_content"][first] is not None:
            conversation = [{"role": heads["prompt_role"][first], "content": heads["prompt_content"][first]}]
        else:
            conversation = json_value(heads["conversation"][first])
        yield ComparisonGroup(
            cid,
            heads["prompt_id"][first],
            conversation,
            heads["comparison_created_at"][first],
            group_shown,
            judgments,
            state.routing.get(cid) if state.routing is not None else None,
            turns or None,
        )


def _model_ok(options, group, position):
    return not options.models or group.shown[position].model in options.models


def _rows(options, group, stats, balancer):
    if options.format in ("listwise", "ratings"):
        yield from _per_judgment_rows(options, group, stats)
        return
    units, dropped = aggregate_units(options, group.judgments, group.shown)
    for reason, count in dropped.items():
        stats.dropped[reason] += count
    for unit in units:
        if unit.agreement < options.min_agreement:
            stats.dropped["below minimum agreement"] += 1
            continue
        if not (_model_ok(options, group, unit.a) and (unit.negative or _model_ok(options, group, unit.b))):
            stats.dropped["model filter"] += 1
            continue
        if unit.negative:
            prov = formats.provenance(group, unit.judgments, unit.agreement, True)
            stats.add_length("completion (negative)", len(group.shown[unit.a].text))
            yield formats.negative_row(group, unit.a, prov)
            continue
        chosen_len, rejected_len = len(group.shown[unit.a].text), len(group.shown[unit.b].text)
        if not balancer.admit(chosen_len, rejected_len):
            continue
        stats.pairs += 1
        stats.chosen_longer += chosen_len > rejected_len
        stats.add_length("chosen", chosen_len)
        stats.add_length("rejected", rejected_len)
        prov = formats.provenance(group, unit.judgments, unit.agreement, unit.none_acceptable)
        yield from formats.pair_rows(
            options, group, unit, _margin(options, unit) if options.has_margin else None, prov
        )


def _margin(options, unit):
    if unit.tie or unit.none_acceptable:
        return 0.0
    strengths = [j.strength for j in unit.judgments if j.strength is not None]
    scale = sum(strengths) / len(strengths) if options.margin == "strength" and strengths else 1.0
    return unit.gap * scale


def _per_judgment_rows(options, group, stats):
    """listwise and ratings: one judgment at a time (aggregation is refused for these)."""
    for judgment in group.judgments:
        if options.ties == "drop" and (judgment.none_acceptable or len(judgment.ranking) == 1):
            stats.dropped["none acceptable or all tied (judgments)"] += 1
            continue
        agreement = share(group.judgments, lambda j, ranking=judgment.ranking: j.ranking == ranking)
        if agreement < options.min_agreement:
            stats.dropped["below minimum agreement"] += 1
            continue
        prov = formats.provenance(group, [judgment], agreement, judgment.none_acceptable)
        if options.format == "listwise":
            ranking = [[p for p in sorted(g) if _model_ok(options, group, p)] for g in judgment.ranking]
            ranking = [g for g in ranking if g]
            if sum(len(g) for g in ranking) < 2:
                stats.dropped["model filter"] += 1
                continue
            row = formats.listwise_row(group, ranking, prov)
            for text in row["responses"]:
                stats.add_length("response", len(text))
            yield row
            continue
        rows = formats.rating_rows(
            group, judgment, judgment.ranking, prov, lambda p: _model_ok(options, group, p)
        )
        if not rows:
            stats.dropped["model filter"] += 1
        for row in rows:
            stats.add_length("response", len(row["response"]))
            yield row
