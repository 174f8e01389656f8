"""The pair formats (dpo, dpo-chat, reward, kto) with every judgment its own rows, built a page
of judgments at a time as numpy and Arrow columns instead of a Python dictionary per row.

Pages come from annotation.judgment_pages; the units of each distinct ranking come from
export.policies.judgment_units, computed once per export (ExportState). Work that depends on one
distinct value (a prompt's text, messages and split, an annotator's pseudonym, a tag list) is done
once in Python; work per row is vectorised. Aggregation, listwise and ratings take export.rows,
which reads the same pages."""

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from . import formats
from .arrays import arrays as _arrays
from .arrays import codes as _codes
from .arrays import counts as _counts
from .arrays import json_value as _json
from .arrays import one_each as _one_each
from .arrays import ragged as _ragged
from .policies import LOSS_, NONE_SHARE, TIE, WIN, group_index, judgment_units, prompt_key, split_for


def applies(options):
    """Pair formats with every judgment its own rows (this module); the others take export.rows."""
    return options.is_pairwise and options.aggregate == "none"


class ExportState:
    """What lasts across the pages of one export: the per-ranking caches (validity, relations,
    units), the streaming length balancers and the reliability of each author. Never shared
    between exports or threads."""

    def __init__(self, options, balancers):
        self.options = options
        self.balancers = balancers
        self.reliability = {}  # (annotator id, campaign id) -> reliability or None
        self.routing = None  # --source routed: the page's {comparison id: (destination, reason, policy)}
        self._rankings = {}
        self._templates = {}
        self._splits = {}  # prompt id -> split (only with a test split)

    def split_of(self, prompt_id, conversation):
        """The split of a prompt (grouped by its content: no prompt is in both)."""
        options = self.options
        if options.test_fraction <= 0:
            return "train"
        split = self._splits.get(prompt_id)
        if split is None:
            split = split_for(prompt_key(conversation), options.seed, options.test_fraction)
            if len(self._splits) >= 100_000:  # bounded memory; a miss only recomputes the hash
                self._splits.clear()
            self._splits[prompt_id] = split
        return split

    # ---- per distinct ranking text

    def ranking(self, text):
        info = self._rankings.get(text)
        if info is None:
            if len(self._rankings) >= 10_000:
                self._rankings.clear()
                self._templates.clear()
            info = self._rankings[text] = RankingInfo(text)
        return info

    def template(self, text, none_acceptable):
        key = (text, none_acceptable)
        units = self._templates.get(key)
        if units is None:
            units = self._templates[key] = judgment_units(
                self.options, self.ranking(text).ranking, none_acceptable
            )
        return units


class RankingInfo:
    """One ranking text: its value, its positions (sorted, for the validity check), its pair
    relations (for agreement) and its tie groups. ``positions`` is None when it is not a list of
    tie groups of at least two whole-number positions (a "1", 1.0 or true names no shown
    response); such a judgment is dropped."""

    def __init__(self, text):
        ranking = _json(text)
        self.ranking = ranking
        self.positions = None
        self.relations = ()
        self.index = None
        if isinstance(ranking, list) and all(isinstance(g, list) for g in ranking):
            flat = [p for g in ranking for p in g]
            if len(flat) >= 2 and all(type(p) is int for p in flat):
                self.positions = sorted(flat)
                index = self.index = group_index(ranking)
                ordered = sorted(index)
                # Every unordered pair (a < b) with its outcome: WIN a over b, LOSS_ b over a, or TIE.
                self.relations = tuple(
                    (a, b, WIN if index[a] < index[b] else LOSS_ if index[a] > index[b] else TIE)
                    for i, a in enumerate(ordered)
                    for b in ordered[i + 1 :]
                )


def _assistant(texts):
    roles = pa.array(np.full(len(texts), "assistant", dtype=object), type=pa.string())
    return _one_each(
        pa.StructArray.from_arrays([roles, texts], fields=list(formats.MESSAGE)), formats.MESSAGE
    )


def _with_turns(shown, slots, messages):
    """Multi-turn battles (a ``turns`` column from annotation.judgment_pages.with_continued_turns): those
    rows' whole conversation after the opening instead of the single answer."""
    if "turns" not in shown:
        return messages
    turns = shown["turns"].take(pa.array(slots)).to_pylist()
    if not any(turns):
        return messages
    return pa.array(
        [orjson.loads(t) if t else m for t, m in zip(turns, messages.to_pylist())], type=formats.MESSAGES
    )


def _append_one(lists, values):
    """Each row's list (a ListArray) followed by that row's value."""
    offsets = lists.offsets.to_numpy()
    lengths = np.diff(offsets)
    flat = lists.values
    combined = pa.concat_arrays([flat, values])
    new_lengths = lengths + 1
    starts = np.concatenate(([0], np.cumsum(new_lengths)[:-1]))
    order = np.empty(int(new_lengths.sum()), dtype=np.int64)
    inside = _ragged(offsets[:-1], lengths)
    slots = _ragged(starts, lengths)
    order[slots] = inside
    order[starts + lengths] = len(flat) + np.arange(len(values))
    new_offsets = np.concatenate(([0], np.cumsum(new_lengths))).astype(np.int32)
    return pa.ListArray.from_arrays(pa.array(new_offsets), combined.take(pa.array(order)), type=lists.type)


# ---------------------------------------------------------------- one page


class Page:
    """One page of annotation.judgment_pages as arrays, with each judgment's validity checked
    once for every format: its ranking must name exactly the comparison's shown positions.

    ``judgments`` holds whole comparisons in (comparison id, judgment id) order with the columns
    of annotation.judgment_pages.JUDGMENT_COLUMNS; ``shown`` those comparisons' slots sorted by
    (comparison_id, position)."""

    def __init__(self, state, judgments, shown, stats):
        self.judgments, self.shown = _arrays(judgments), _arrays(shown)
        self.n = n = len(self.judgments["id"])
        stats.judgments_read += n
        self.cid = self.judgments["comparison_id"].to_numpy(zero_copy_only=False)
        self.comparisons, self.comp = np.unique(self.cid, return_inverse=True)
        stats.comparisons_read += len(self.comparisons)
        s_cid = self.shown["comparison_id"].to_numpy(zero_copy_only=False)
        self.s_pos = self.shown["position"].to_numpy(zero_copy_only=False)
        self.s_key = s_cid.astype(np.int64) * 65536 + self.s_pos
        self.s_start = np.searchsorted(s_cid, self.comparisons, side="left")
        self.s_count = np.searchsorted(s_cid, self.comparisons, side="right") - self.s_start
        self.r_codes, r_dict = _codes(self.judgments["ranking"])
        self.na = self.judgments["none_acceptable"].to_numpy(zero_copy_only=False).astype(bool)
        self.texts = r_dict.to_pylist()
        self.infos = [state.ranking(t) if t is not None else None for t in self.texts]
        self.valid = self._valid() if n else np.zeros(0, dtype=bool)
        invalid = int(n - self.valid.sum())
        if invalid:
            stats.dropped["ranking does not match the shown responses"] += invalid

    def _valid(self):
        infos, r_codes, comp = self.infos, self.r_codes, self.comp
        valid = np.zeros(self.n, dtype=bool)
        r_len = np.array(
            [len(i.positions) if i and i.positions else -1 for i in infos] + [-1], dtype=np.int64
        )
        candidate = np.flatnonzero(r_len[r_codes] == self.s_count[comp])
        if len(candidate):
            # Positions named by the ranking, sorted, against the comparison's shown positions.
            pos_off = np.concatenate(
                ([0], np.cumsum([len(i.positions) if i and i.positions else 0 for i in infos]))
            )
            pos_flat = np.array(
                [p for i in infos if i and i.positions for p in i.positions] or [0], dtype=np.int64
            )
            lengths = r_len[r_codes[candidate]]
            named = pos_flat[_ragged(pos_off[r_codes[candidate]], lengths)]
            seen = self.s_pos[_ragged(self.s_start[comp[candidate]], lengths)]
            starts = np.concatenate(([0], np.cumsum(lengths)[:-1]))
            valid[candidate] = np.logical_and.reduceat(named == seen, starts)
        return valid


class _Templates:
    """The distinct (ranking, none acceptable) of a page's valid judgments, their units as
    arrays, and each valid judgment's template."""

    def __init__(self, state, page, stats):
        self.v_idx = np.flatnonzero(page.valid)
        combo = page.r_codes[self.v_idx] * 2 + page.na[self.v_idx]
        distinct, self.inverse = np.unique(combo, return_inverse=True)
        templates = [state.template(page.texts[c // 2], bool(c % 2)) for c in distinct]
        for units, count in zip(templates, np.bincount(self.inverse, minlength=len(templates))):
            for reason, per in units.dropped.items():
                stats.dropped[reason] += per * int(count)
        self.length = np.array([len(u) for u in templates], dtype=np.int64)
        self.offset = np.concatenate(([0], np.cumsum(self.length)))
        self.units = [unit for units in templates for unit in units]
        self.neg = np.array([u.negative for u in self.units], dtype=bool)
        self.a = np.array([u.a for u in self.units], dtype=np.int64)
        self.b = np.array([u.b for u in self.units], dtype=np.int64)
        self.gap = np.array([u.gap for u in self.units], dtype=np.float64)
        self.tie = np.array([u.tie for u in self.units], dtype=bool)


def page_tables(state, page, stats):
    """Rows for one page: a list of (split, pa.Table in the export's schema)."""
    if page.n == 0:
        return []
    t = _Templates(state, page, stats)
    if not t.units:
        return []
    # Expand: one entry per (valid judgment, unit), in judgment order then template order.
    per_judgment = t.length[t.inverse]
    row_j = np.repeat(t.v_idx, per_judgment)
    row_t = _ragged(t.offset[t.inverse], per_judgment)
    if len(row_j) == 0:
        return []
    agreement = _agreements(page, t.units, row_j, row_t)
    slot_a = np.searchsorted(page.s_key, page.cid[row_j].astype(np.int64) * 65536 + t.a[row_t])
    slot_b = np.searchsorted(page.s_key, page.cid[row_j].astype(np.int64) * 65536 + t.b[row_t])
    negative = t.neg[row_t]
    keep = _filters(state.options, page, agreement, slot_a, slot_b, negative, stats)
    prompts = _PagePrompts(state.options, page.judgments)
    unit_test = prompts.test[prompts.codes[row_j]]
    keep = _balanced(state, page, keep, negative, unit_test, slot_a, slot_b, stats)
    tables = []
    for split, in_split in (("train", ~unit_test), ("test", unit_test)):
        chosen = np.flatnonzero(keep & in_split)
        if len(chosen):
            picked = _Picked(row_j[chosen], row_t[chosen], agreement[chosen], slot_a[chosen], slot_b[chosen])
            table = _build(state, page, prompts, picked, t)
            sources, counts = np.unique(table["source"].to_numpy(zero_copy_only=False), return_counts=True)
            for source, count in zip(sources.tolist(), counts.tolist()):
                stats.sources[source] += count
            tables.append((split, table))
    return tables


class _Picked:
    """The kept units of one split: their judgment, template unit, agreement and slots."""

    def __init__(self, row_j, row_t, agreement, slot_a, slot_b):
        self.row_j, self.row_t, self.agreement, self.slot_a, self.slot_b = (
            row_j,
            row_t,
            agreement,
            slot_a,
            slot_b,
        )


def _filters(options, page, agreement, slot_a, slot_b, negative, stats):
    """The minimum agreement and the model filter: which units stay."""
    keep = np.ones(len(agreement), dtype=bool)
    if options.min_agreement > 0:
        low = agreement < options.min_agreement
        if low.any():
            stats.dropped["below minimum agreement"] += int(low.sum())
        keep &= ~low
    if options.models:
        wanted = pc.is_in(page.shown["model"], value_set=pa.array(list(options.models), pa.string()))
        wanted = wanted.fill_null(False).to_numpy(zero_copy_only=False)
        model_ok = wanted[slot_a] & (negative | wanted[slot_b])
        rejected = keep & ~model_ok
        if rejected.any():
            stats.dropped["model filter"] += int(rejected.sum())
        keep &= model_ok
    return keep


def _balanced(state, page, keep, negative, unit_test, slot_a, slot_b, stats):
    """The length balancers (one per split, in row order), and the card's length statistics."""
    s_len = pc.utf8_length(page.shown["text"].fill_null("")).to_numpy(zero_copy_only=False).astype(np.int64)
    len_a, len_b = s_len[slot_a], s_len[slot_b]
    pair = keep & ~negative
    if state.options.max_chosen_longer_rate is not None:
        for split, in_split in (("train", ~unit_test), ("test", unit_test)):
            keep &= _balance(state.balancers[split], np.flatnonzero(pair & in_split), len_a, len_b, len(keep))
        pair = keep & ~negative
    stats.pairs += int(pair.sum())
    stats.chosen_longer += int((len_a[pair] > len_b[pair]).sum())
    for name, values in (
        ("chosen", len_a[pair]),
        ("rejected", len_b[pair]),
        ("completion (negative)", len_a[keep & negative]),
    ):
        if len(values):
            stats.add_lengths(name, _counts(values))
    return keep


def _balance(balancer, units, len_a, len_b, size):
    """The LengthBalancer's streaming decisions for these pair units, in order."""
    admitted = np.ones(size, dtype=bool)
    admit = balancer.admit
    for unit, a, b in zip(units.tolist(), len_a[units].tolist(), len_b[units].tolist()):
        if not admit(a, b):
            admitted[unit] = False
    return admitted


def _agreements(page, flat_units, row_j, row_t):
    """Each unit's agreement: the share of its comparison's valid judgments that give the same
    outcome for its pair (or, for a "none acceptable" negative, that say none acceptable)."""
    infos, r_codes, na, comp = page.infos, page.r_codes, page.na, page.comp
    v_idx = np.flatnonzero(page.valid)
    n_comp = int(comp.max()) + 1
    valid_total = np.bincount(comp[v_idx], minlength=n_comp).astype(np.float64)
    none_total = np.bincount(comp[v_idx], weights=na[v_idx].astype(np.float64), minlength=n_comp)

    # Every valid judgment's outcome on every pair of its positions, counted per comparison.
    rel_len = np.array([len(i.relations) if i else 0 for i in infos] + [0], dtype=np.int64)
    rel_off = np.concatenate(([0], np.cumsum(rel_len)))
    rel = np.array([r for i in infos if i for r in i.relations] or [(0, 0, 0)], dtype=np.int64).reshape(-1, 3)
    lengths = rel_len[r_codes[v_idx]]
    picked = rel[_ragged(rel_off[r_codes[v_idx]], lengths)]
    rel_comp = np.repeat(comp[v_idx], lengths)
    keys = _relation_key(rel_comp, picked[:, 0], picked[:, 1], picked[:, 2])
    found, counts = np.unique(keys, return_counts=True)

    spec_len = np.array([len(u.specs) for u in flat_units], dtype=np.int64)
    spec_off = np.concatenate(([0], np.cumsum(spec_len)))
    spec = np.array([s for u in flat_units for s in u.specs], dtype=np.int64).reshape(-1, 3)
    per_row = spec_len[row_t]
    s_rows = _ragged(spec_off[row_t], per_row)
    code, x, y = spec[s_rows, 0], spec[s_rows, 1], spec[s_rows, 2]
    s_comp = np.repeat(comp[row_j], per_row)
    # A WIN of x over y is stored on the pair (min, max): as WIN when x < y, as LOSS_ otherwise.
    flip = (code == WIN) & (x > y)
    lo, hi = np.minimum(x, y), np.maximum(x, y)
    look = _relation_key(s_comp, lo, hi, np.where(flip, LOSS_, code))
    agree = np.zeros(len(look))
    if len(found):
        at = np.minimum(np.searchsorted(found, look), len(found) - 1)
        agree = np.where(found[at] == look, counts[at], 0).astype(np.float64)
    agree = np.where(code == NONE_SHARE, none_total[s_comp], agree)
    total = valid_total[s_comp]
    share = np.divide(agree, total, out=np.zeros_like(agree), where=total > 0)
    starts = np.concatenate(([0], np.cumsum(per_row)[:-1]))
    return np.minimum.reduceat(share, starts) if len(share) else share


def _relation_key(comp, a, b, code):
    return ((comp.astype(np.int64) * 65536 + a) * 65536 + b) * 4 + code


# ---------------------------------------------------------------- columns


def _build(state, page, prompts, picked, t):
    """The output table for the kept units of one split."""
    options = state.options
    row_j, row_t, agreement = picked.row_j, picked.row_t, picked.agreement
    negative, tie = t.neg[row_t], t.tie[row_t]
    column = {}
    if options.format == "kto":
        # A pair makes two rows (chosen: label true, rejected: label false); a negative one.
        per_unit = np.where(negative, 1, 2)
        unit = np.repeat(np.arange(len(row_j)), per_unit)
        second = _ragged(np.zeros(len(per_unit), np.int64), per_unit) == 1
        row_j, row_t, agreement = row_j[unit], row_t[unit], agreement[unit]
        negative, tie = negative[unit], tie[unit]
        slot = pa.array(np.where(second, picked.slot_b[unit], picked.slot_a[unit]))
        column["prompt"] = prompts.column("messages", row_j)
        column["completion"] = _assistant(page.shown["text"].take(slot))
        column["label"] = pa.array(~second & ~negative)
        column["model"] = page.shown["model"].take(slot)
        column["position"] = pa.array(np.where(second, t.b[row_t], t.a[row_t]))
        column["tie"] = pa.array(tie)
    else:
        column.update(_pair_columns(options, page, prompts, picked, t))
    rows = pa.array(row_j)
    column.update(
        formats.provenance_columns(page.judgments, rows, row_j, agreement, negative | page.na[row_j])
    )
    if options.source == "routed":
        column.update(_routing_columns(state, page, rows))
    schema = formats.arrow_schema(options)
    return pa.Table.from_arrays([column[f.name].cast(f.type) for f in schema], schema=schema)


def _pair_columns(options, page, prompts, picked, t):
    """The columns of dpo, dpo-chat and reward rows, before the provenance."""
    row_j, row_t, slot_a, slot_b = picked.row_j, picked.row_t, picked.slot_a, picked.slot_b
    text, model, tie = page.shown["text"], page.shown["model"], t.tie[row_t]
    chosen, rejected = text.take(pa.array(slot_a)), text.take(pa.array(slot_b))
    column = {}
    if options.format == "dpo":
        column.update(prompt=prompts.column("text", row_j), chosen=chosen, rejected=rejected)
    elif options.format == "dpo-chat":
        column.update(
            prompt=prompts.column("messages", row_j),
            chosen=_with_turns(page.shown, slot_a, _assistant(chosen)),
            rejected=_with_turns(page.shown, slot_b, _assistant(rejected)),
        )
    else:  # reward: the conversation is inside chosen and rejected
        conversation = prompts.column("messages", row_j)
        column.update(
            chosen=_append_one(conversation, _assistant(chosen).values),
            rejected=_append_one(conversation, _assistant(rejected).values),
        )
    if options.has_margin:
        scale = np.ones(len(row_j))
        if options.margin == "strength":
            strength = page.judgments["strength"].take(pa.array(row_j))
            scale = np.where(
                strength.is_null().to_numpy(zero_copy_only=False),
                1.0,
                strength.fill_null(0).to_numpy(zero_copy_only=False).astype(np.float64),
            )
        column["margin"] = pa.array(np.where(tie | page.na[row_j], 0.0, t.gap[row_t] * scale), pa.float64())
    column.update(
        chosen_model=model.take(pa.array(slot_a)),
        rejected_model=model.take(pa.array(slot_b)),
        chosen_position=pa.array(t.a[row_t]),
        rejected_position=pa.array(t.b[row_t]),
        tie=pa.array(tie),
    )
    return column


def _routing_columns(state, page, rows):
    """routing_policy and routing_reason (--source routed), by comparison and source."""
    routing = state.routing
    values = [
        formats.routing_provenance(routing.get(cid), source)
        for cid, source in zip(
            page.judgments["comparison_id"].take(rows).to_pylist(),
            page.judgments["source"].take(rows).to_pylist(),
        )
    ]
    return {
        name: pa.array([v.get(name) for v in values], pa.string())
        for name in ("routing_policy", "routing_reason")
    }


class _PagePrompts:
    """A page's distinct prompts: ``codes`` gives each judgment's prompt, ``test`` whether that
    prompt is in the test split. One-turn prompts come from SQL as role and content; only the
    others are decoded, once each."""

    def __init__(self, options, judgments):
        self.codes, _ = _codes(judgments["prompt_id"])
        _, first = np.unique(self.codes, return_index=True)
        first = pa.array(first)
        self.roles, self.contents = (
            judgments["prompt_role"].take(first),
            judgments["prompt_content"].take(first),
        )
        self.other = np.flatnonzero(self.contents.is_null().to_numpy(zero_copy_only=False))
        texts = judgments["conversation"].take(first).take(pa.array(self.other)).to_pylist()
        self.conversations = [_json(text) for text in texts]
        self.test = np.zeros(len(self.contents) + 1, dtype=bool)
        if options.test_fraction > 0:
            conversations = [
                [{"role": r, "content": c}] for r, c in zip(self.roles.to_pylist(), self.contents.to_pylist())
            ]
            for at, conversation in zip(self.other.tolist(), self.conversations):
                conversations[at] = conversation
            self.test[: len(conversations)] = [
                split_for(prompt_key(c), options.seed, options.test_fraction) == "test" for c in conversations
            ]
        self._columns = {}

    def column(self, kind, rows):
        """The rows' prompts as text ("text") or messages ("messages")."""
        values = self._columns.get(kind)
        if values is None:
            if kind == "text":
                simple, make, type_ = self.contents, formats.prompt_text, pa.string()
            else:
                simple = _one_each(
                    pa.StructArray.from_arrays([self.roles, self.contents], fields=list(formats.MESSAGE)),
                    formats.MESSAGE,
                )
                make, type_ = formats.messages, formats.MESSAGES
            values = simple
            if len(self.other):
                # Index into [simple values, the others' values]: the others replace their slots.
                other = pa.array([make(c) for c in self.conversations], type=type_)
                index = np.arange(len(simple))
                index[self.other] = len(simple) + np.arange(len(self.other))
                values = pa.concat_arrays([simple, other]).take(pa.array(index))
            self._columns[kind] = values
        return values.take(pa.array(self.codes[rows]))
