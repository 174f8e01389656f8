"""The columnar path: pair formats (dpo, dpo-chat, reward, kto) where every judgment makes its
own rows, built a page of judgments at a time as numpy and Arrow columns instead of a Python
dictionary per row.

It applies the same policies as the row path in export.services (which also serves
aggregation, reliability, listwise, ratings and SQLite) and produces the same rows in the
same order with the same counts: tests export the same data both ways and compare them.
Work that depends on one distinct value (a ranking's rank-breaking, a prompt's text,
messages and split, an annotator's pseudonym, a tag list) is done once in Python; work per
row is vectorised."""

import json

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from . import formats
from .policies import TIE, WIN, break_ranking, group_index, prompt_key, split_for

# Outcome codes for agreement counting, beside policies.WIN (1) and TIE (0): non-negative, so
# they pack into one integer key. LOSS_: b over a. NONE_SHARE: the "none acceptable" share.
LOSS_, NONE_SHARE = 2, 3


def applies(options):
    """Pair formats with every judgment its own rows, and no reliability lookup (a per-author
    database question the row path asks) nor routing reasons (the row path reads them per batch)."""
    return (
        options.is_pairwise
        and options.aggregate == "none"
        and options.min_reliability is None
        and options.source != "routed"
    )


class ColumnarState:
    """What lasts across pages: the per-ranking caches and the streaming length balancers."""

    def __init__(self, options, balancers):
        self.options = options
        self.balancers = balancers
        self._rankings = {}
        self._templates = {}

    # ---- per distinct ranking text

    def ranking(self, text):
        info = self._rankings.get(text)
        if info is None:
            if len(self._rankings) >= 10_000:
                self._rankings.clear()
                self._templates.clear()
            info = self._rankings[text] = _RankingInfo(text)
        return info

    def template(self, text, none_acceptable):
        key = (text, none_acceptable)
        units = self._templates.get(key)
        if units is None:
            units = self._templates[key] = _units(self.options, self.ranking(text), none_acceptable)
        return units


class _RankingInfo:
    """One ranking text: its positions (sorted, for the validity check), its pair relations
    (for agreement) and its tie groups. ``positions`` is None when it is not a list of tie
    groups of at least two whole-number positions, which the row path also rejects."""

    def __init__(self, text):
        ranking = _json(text)
        self.ranking = ranking
        self.positions = None
        self.relations = ()
        if isinstance(ranking, list) and all(isinstance(g, list) for g in ranking):
            flat = [p for g in ranking for p in g]
            if len(flat) >= 2 and all(type(p) is int for p in flat):
                self.positions = sorted(flat)
                index = group_index(ranking)
                ordered = sorted(index)
                # Every unordered pair (a < b) with its outcome: WIN a over b, LOSS_ b over a, or TIE.
                self.relations = tuple(
                    (a, b, WIN if index[a] < index[b] else LOSS_ if index[a] > index[b] else TIE)
                    for i, a in enumerate(ordered)
                    for b in ordered[i + 1 :]
                )


def _units(options, info, none_acceptable):
    """(units, dropped): the row units one valid judgment with this ranking yields, in the row
    path's order, each (negative?, a, b, gap, tie, agreement specs), and what the policies drop
    ({reason: count}). A spec is (code, x, y); a unit's agreement is the smallest of its specs'
    shares."""
    units, dropped = [], {}
    index = group_index(info.ranking)
    if none_acceptable and options.ties == "drop":
        return [], {"none acceptable (judgments)": 1}
    if none_acceptable and options.ties == "kto-negative":
        return [(True, p, p, 0, True, [(NONE_SHARE, 0, 0)]) for p in sorted(index)], {}
    strict, tied = break_ranking(info.ranking, options.rank_breaking)
    for winner, loser, gap in strict:
        units.append((False, winner, loser, gap, False, [(WIN, winner, loser)]))
    if tied:
        if options.ties == "drop":
            dropped["tied pairs"] = len(tied)
        elif options.ties == "margin-zero":
            units += [(False, a, b, 0, True, [(TIE, a, b)]) for a, b in tied]
        else:  # kto-negative: each tied response once, with its least-agreed tied pair's agreement
            specs = {}
            for a, b in tied:
                for position in (a, b):
                    specs.setdefault(position, []).append((TIE, a, b))
            units += [(True, p, p, 0, True, specs[p]) for p in sorted(specs)]
    return units, dropped


# ---------------------------------------------------------------- small vector helpers


def _arrays(table):
    """A table's columns as single Arrow arrays (take and friends then return arrays too)."""
    return {
        name: column.chunk(0) if column.num_chunks == 1 else column.combine_chunks()
        for name, column in zip(table.column_names, table.columns)
    }


def _ragged(starts, lengths):
    """Concatenated ranges [start, start + length) for each pair, as one index array."""
    lengths = np.asarray(lengths, dtype=np.int64)
    total = int(lengths.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    shift = np.repeat(
        np.asarray(starts, dtype=np.int64) - np.concatenate(([0], np.cumsum(lengths)[:-1])), lengths
    )
    return shift + np.arange(total, dtype=np.int64)


def _codes(array):
    """Dense integer codes of an Arrow array's values (nulls get their own code) and, for each
    code, one row where it occurs."""
    encoded = pc.dictionary_encode(array)
    codes = encoded.indices.to_numpy(zero_copy_only=False)
    if encoded.indices.null_count:
        codes = np.where(
            encoded.indices.is_null().to_numpy(zero_copy_only=False), len(encoded.dictionary), codes
        )
    return codes.astype(np.int64), encoded.dictionary


def _by_distinct(columns, rows, fn, type_):
    """fn(*values) once per distinct combination of ``columns`` among ``rows`` (an index array),
    as an Arrow array with one value per row."""
    if len(rows) == 0:
        return pa.array([], type=type_)
    key = np.zeros(len(rows), dtype=np.int64)
    for column in columns:
        codes, dictionary = _codes(column.take(pa.array(rows)))
        key = key * (len(dictionary) + 1) + codes
    _, first, inverse = np.unique(key, return_index=True, return_inverse=True)
    values = [column.take(pa.array(rows[first])).to_pylist() for column in columns]
    distinct = pa.array([fn(*v) for v in zip(*values)], type=type_)
    return distinct.take(pa.array(inverse.reshape(-1)))


def _counts(values):
    """{value: count} of an integer array, for the card's length statistics."""
    found, counts = np.unique(values, return_counts=True)
    return dict(zip(found.tolist(), counts.tolist()))


def _one_each(values, type_):
    """A list array holding one value per row."""
    return pa.ListArray.from_arrays(
        pa.array(np.arange(len(values) + 1, dtype=np.int32)), values, type=pa.list_(type_)
    )


def _assistant(texts):
    roles = pa.array(np.full(len(texts), "assistant", dtype=object), type=pa.string())
    return _one_each(
        pa.StructArray.from_arrays([roles, texts], fields=list(formats.MESSAGE)), formats.MESSAGE
    )


def _with_turns(shown, slots, messages):
    """Multi-turn battles (a ``turns`` column from export.selectors.with_continued_turns): those
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


def page_tables(state, judgments, shown, stats):
    """Rows for one page: a list of (split, pa.Table in the export's schema).

    ``judgments`` holds whole comparisons in (comparison id, judgment id) order with the
    columns of export.selectors.ARROW_JUDGMENT_COLUMNS; ``shown`` those comparisons' slots
    sorted by (comparison_id, position)."""
    options = state.options
    judgments, shown = _arrays(judgments), _arrays(shown)
    n = len(judgments["id"])
    stats.judgments_read += n
    if n == 0:
        return []
    cid = judgments["comparison_id"].to_numpy(zero_copy_only=False)
    comparisons, comp = np.unique(cid, return_inverse=True)
    stats.comparisons_read += len(comparisons)

    # Shown responses: slot index by (comparison, position), and each comparison's positions.
    s_cid = shown["comparison_id"].to_numpy(zero_copy_only=False)
    s_pos = shown["position"].to_numpy(zero_copy_only=False)
    s_key = s_cid.astype(np.int64) * 65536 + s_pos
    s_start = np.searchsorted(s_cid, comparisons, side="left")
    s_count = np.searchsorted(s_cid, comparisons, side="right") - s_start

    # Per distinct (ranking, none acceptable): validity data and the unit template.
    r_codes, r_dict = _codes(judgments["ranking"])
    na = judgments["none_acceptable"].to_numpy(zero_copy_only=False).astype(bool)
    texts = r_dict.to_pylist()
    infos = [state.ranking(t) if t is not None else None for t in texts]
    valid = np.zeros(n, dtype=bool)
    r_len = np.array([len(i.positions) if i and i.positions else -1 for i in infos] + [-1], dtype=np.int64)
    candidate = np.flatnonzero(r_len[r_codes] == s_count[comp])
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
        seen = s_pos[_ragged(s_start[comp[candidate]], lengths)]
        starts = np.concatenate(([0], np.cumsum(lengths)[:-1]))
        valid[candidate] = np.logical_and.reduceat(named == seen, starts)
    invalid = int(n - valid.sum())
    if invalid:
        stats.dropped["ranking does not match the shown responses"] += invalid

    v_idx = np.flatnonzero(valid)
    combo = r_codes[v_idx] * 2 + na[v_idx]
    distinct_combos, combo_inverse = np.unique(combo, return_inverse=True)
    templates = [state.template(texts[c // 2], bool(c % 2)) for c in distinct_combos]
    for (units, dropped), count in zip(templates, np.bincount(combo_inverse, minlength=len(templates))):
        for reason, per in dropped.items():
            stats.dropped[reason] += per * int(count)
    t_len = np.array([len(u) for u, _ in templates], dtype=np.int64)
    t_off = np.concatenate(([0], np.cumsum(t_len)))
    flat_units = [unit for units, _ in templates for unit in units]
    if not flat_units:
        return []
    u_neg = np.array([u[0] for u in flat_units], dtype=bool)
    u_a = np.array([u[1] for u in flat_units], dtype=np.int64)
    u_b = np.array([u[2] for u in flat_units], dtype=np.int64)
    u_gap = np.array([u[3] for u in flat_units], dtype=np.float64)
    u_tie = np.array([u[4] for u in flat_units], dtype=bool)

    # Expand: one entry per (valid judgment, unit), in judgment order then template order.
    per_judgment = t_len[combo_inverse]
    row_j = np.repeat(v_idx, per_judgment)
    row_t = _ragged(t_off[combo_inverse], per_judgment)
    if len(row_j) == 0:
        return []

    agreement = _agreements(state, judgments, infos, r_codes, na, comp, v_idx, flat_units, row_j, row_t)
    keep = np.ones(len(row_j), dtype=bool)
    if options.min_agreement > 0:
        low = agreement < options.min_agreement
        if low.any():
            stats.dropped["below minimum agreement"] += int(low.sum())
        keep &= ~low

    slot_a = np.searchsorted(s_key, cid[row_j].astype(np.int64) * 65536 + u_a[row_t])
    slot_b = np.searchsorted(s_key, cid[row_j].astype(np.int64) * 65536 + u_b[row_t])
    negative = u_neg[row_t]
    if options.models:
        wanted = pc.is_in(shown["model"], value_set=pa.array(list(options.models), pa.string()))
        wanted = wanted.fill_null(False).to_numpy(zero_copy_only=False)
        model_ok = wanted[slot_a] & (negative | wanted[slot_b])
        rejected = keep & ~model_ok
        if rejected.any():
            stats.dropped["model filter"] += int(rejected.sum())
        keep &= model_ok

    # The split of each unit's prompt, and the length balancers (one per split, in row order).
    prompts = _PagePrompts(options, judgments)
    unit_test = prompts.test[prompts.codes[row_j]]
    s_len = pc.utf8_length(shown["text"].fill_null("")).to_numpy(zero_copy_only=False).astype(np.int64)
    len_a, len_b = s_len[slot_a], s_len[slot_b]
    pair = keep & ~negative
    if options.max_chosen_longer_rate is not None:
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

    tables = []
    for split, in_split in (("train", ~unit_test), ("test", unit_test)):
        chosen_units = np.flatnonzero(keep & in_split)
        if len(chosen_units):
            table = _build(
                state,
                judgments,
                shown,
                prompts,
                row_j[chosen_units],
                row_t[chosen_units],
                agreement[chosen_units],
                slot_a[chosen_units],
                slot_b[chosen_units],
                u_neg,
                u_a,
                u_b,
                u_gap,
                u_tie,
                na,
            )
            sources, counts = np.unique(table["source"].to_numpy(zero_copy_only=False), return_counts=True)
            for source, count in zip(sources.tolist(), counts.tolist()):
                stats.sources[source] += count
            tables.append((split, table))
    return tables


def _balance(balancer, units, len_a, len_b, size):
    """The LengthBalancer's streaming decisions for these pair units, in order."""
    admitted = np.ones(size, dtype=bool)
    admit = balancer.admit
    for unit, a, b in zip(units.tolist(), len_a[units].tolist(), len_b[units].tolist()):
        if not admit(a, b):
            admitted[unit] = False
    return admitted


def _agreements(state, judgments, infos, r_codes, na, comp, v_idx, flat_units, row_j, row_t):
    """Each unit's agreement: the share of its comparison's valid judgments that give the same
    outcome for its pair (or, for a "none acceptable" negative, that say none acceptable)."""
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

    spec_len = np.array([len(u[5]) for u in flat_units], dtype=np.int64)
    spec_off = np.concatenate(([0], np.cumsum(spec_len)))
    spec = np.array([s for u in flat_units for s in u[5]], dtype=np.int64).reshape(-1, 3)
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


def _build(
    state,
    judgments,
    shown,
    prompts,
    row_j,
    row_t,
    agreement,
    slot_a,
    slot_b,
    u_neg,
    u_a,
    u_b,
    u_gap,
    u_tie,
    na,
):
    """The output table for the kept units (row_j: their judgment, row_t: their template unit)."""
    options = state.options
    schema = formats.arrow_schema(options)
    negative = u_neg[row_t]
    tie = u_tie[row_t]
    if options.format == "kto":
        # A pair makes two rows (chosen: label true, rejected: label false); a negative one.
        per_unit = np.where(negative, 1, 2)
        unit = np.repeat(np.arange(len(row_j)), per_unit)
        second = _ragged(np.zeros(len(per_unit), np.int64), per_unit) == 1
        row_j, row_t, agreement = row_j[unit], row_t[unit], agreement[unit]
        negative, tie = negative[unit], tie[unit]
        slot = np.where(second, slot_b[unit], slot_a[unit])
        position = np.where(second, u_b[row_t], u_a[row_t])
        label = ~second & ~negative
    rows = pa.array(row_j)
    column = {}
    prompt_of = lambda kind: prompts.column(kind, row_j)  # noqa: E731
    text = shown["text"]
    model = shown["model"]
    if options.format == "kto":
        column["prompt"] = prompt_of("messages")
        column["completion"] = _assistant(text.take(pa.array(slot)))
        column["label"] = pa.array(label)
        column["model"] = model.take(pa.array(slot))
        column["position"] = pa.array(position)
        column["tie"] = pa.array(tie)
    else:
        chosen, rejected = text.take(pa.array(slot_a)), text.take(pa.array(slot_b))
        if options.format == "dpo":
            column.update(prompt=prompt_of("text"), chosen=chosen, rejected=rejected)
        elif options.format == "dpo-chat":
            column.update(
                prompt=prompt_of("messages"),
                chosen=_with_turns(shown, slot_a, _assistant(chosen)),
                rejected=_with_turns(shown, slot_b, _assistant(rejected)),
            )
        else:  # reward: the conversation is inside chosen and rejected
            conversation = prompt_of("messages")
            column.update(
                chosen=_append_one(conversation, _assistant(chosen).values),
                rejected=_append_one(conversation, _assistant(rejected).values),
            )
        if options.has_margin:
            scale = np.ones(len(row_j))
            if options.margin == "strength":
                strength = judgments["strength"].take(rows)
                scale = np.where(
                    strength.is_null().to_numpy(zero_copy_only=False),
                    1.0,
                    strength.fill_null(0).to_numpy(zero_copy_only=False).astype(np.float64),
                )
            margin = np.where(tie | na[row_j], 0.0, u_gap[row_t] * scale)
            column["margin"] = pa.array(margin, pa.float64())
        column.update(
            chosen_model=model.take(pa.array(slot_a)),
            rejected_model=model.take(pa.array(slot_b)),
            chosen_position=pa.array(u_a[row_t]),
            rejected_position=pa.array(u_b[row_t]),
            tie=pa.array(tie),
        )
    column.update(_provenance(judgments, rows, row_j, agreement, negative | na[row_j]))
    return pa.Table.from_arrays([column[f.name].cast(f.type) for f in schema], schema=schema)


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


def _provenance(judgments, rows, row_j, agreement, none_acceptable):
    """The provenance columns, as export.formats.provenance writes them for one judgment."""
    take = lambda name: judgments[name].take(rows)  # noqa: E731
    ids = take("id")
    rounded = np.unique(agreement, return_inverse=True)
    return {
        "comparison_id": take("comparison_id"),
        "prompt_id": take("prompt_id"),
        "judgment_ids": _one_each(ids, pa.int64()),
        "source": take("source"),
        "annotators": _by_distinct(
            [judgments["annotator_id"]],
            row_j,
            lambda a: [] if a is None else [formats.annotator_pseudonym(a)],
            pa.list_(pa.string()),
        ),
        "judges": _by_distinct(
            [judgments["judge_name"], judgments["judge_prompt_version"]],
            row_j,
            lambda name, version: [f"{name}@{version}" if version else name] if name else [],
            pa.list_(pa.string()),
        ),
        "n_judgments": pa.array(np.ones(len(row_j), dtype=np.int64)),
        "agreement": pa.array(
            np.array([round(v, 6) for v in rounded[0].tolist()], dtype=np.float64)[rounded[1].reshape(-1)]
        ),
        "strength": take("strength").cast(pa.float64()),
        "confidence": take("confidence").cast(pa.float64()),
        "none_acceptable": pa.array(none_acceptable),
        "identities_hidden": take("identities_hidden"),
        "rationale": take("rationale").fill_null(""),
        "reason_tags": _by_distinct([judgments["reason_tags"]], row_j, _tags, pa.list_(pa.string())),
        "rubric_version": take("rubric_version").fill_null(""),
        "judged_at": take("created_at"),
        "comparison_created_at": take("comparison_created_at"),
    }


def _json(text):
    """orjson's parse (several times faster), or the standard library's for what orjson refuses
    (numbers beyond 64 bits); both give the same values for everything else."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


def _tags(text):
    tags = _json(text) if text else None
    return sorted({str(t) for t in tags}) if tags else []
