"""Reading judgment files: our ranking records and Chatbot Arena clean-battle records (no Django).

JSONL, one record a line (a JSON array of records is also accepted):
- ours: ``{"ranking": [["m1"], ["m2", "m3"]], "weight": 1.0?, "features": {model: {...}}?}``
- Chatbot Arena clean battles: ``model_a``, ``model_b``, ``winner`` in
  ``model_a | model_b | tie | tie (bothbad)``, and optionally ``conv_metadata`` with
  ``sum_assistant_a_tokens``, ``sum_assistant_b_tokens``, ``header_count_a/b``,
  ``list_count_a/b``, ``bold_count_a/b`` (each count a number or a dict of
  per-level counts, summed). "tie (bothbad)" is a tie unless ``both_bad="drop"``.

A battle dump is read columnar: Arrow's multithreaded JSON reader parses only the three
fields a fit needs (and ``conv_metadata`` when style control asks for it), the battles are
counted per (model_a, model_b, outcome) with numpy, and no Python object is made per battle.
A file Arrow cannot read that way (a line that is not JSON, a missing field, a winner that
names no model, a mix of record kinds, a JSON array) is read again line by line with orjson,
which names the first bad line, or skips and counts bad lines when asked (``skip_bad``).
"""

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import orjson

from .judgments import Judgments, canonical_ranking
from .style import FEATURES

WINNERS = ("model_a", "model_b", "tie", "tie (bothbad)")
# Arrow parses this many bytes per block (and per thread); small files are one block.
BLOCK_BYTES = 16 << 20
# Shown in the error summary of a read with skip_bad.
SHOW_SKIPPED = 5
_META_FIELDS = {
    "tokens": "sum_assistant_{side}_tokens",
    "headers": "header_count_{side}",
    "lists": "list_count_{side}",
    "bold": "bold_count_{side}",
}


@dataclass
class Dump:
    """What a judgment file holds, ready for ``fit_leaderboard``.

    ``judgments``: a ``Judgments`` (counted; kept in order when asked) for a battle dump, or the
    list of rankings for ranking records; ``weights`` (ranking records only) and ``features``
    (battles: a flat (2 x battles, 4) array in ``style_pairs_flat``'s order; ranking records: one
    dict per ranking) are None when absent. ``skipped`` lists (line, reason) of records left out."""

    judgments: Any
    weights: list[float] | None = None
    features: Any = None
    kind: str = "arena"
    records: int = 0
    skipped: list[tuple[int, str]] = field(default_factory=list)


class BadRecord(ValueError):
    def __init__(self, line: int, reason: str) -> None:
        super().__init__(f"line {line}: {reason}")
        self.line, self.reason = line, reason


def _count(v: Any) -> Any:
    if isinstance(v, dict):
        return sum(_count(x) for x in v.values())
    if v is None:
        return 0
    return v


def arena_features(meta: dict[str, Any], side: str) -> dict[str, Any]:
    return {name: _count(meta.get(key.format(side=side))) for name, key in _META_FIELDS.items()}


def parse_record(rec: Any, line: int, both_bad: str = "tie") -> Any:
    """(ranking, weight, features or None), or None for a record to skip."""
    kind, parsed = _parse_line_record(rec, line, both_bad, style=True)
    if kind is None:
        return None
    if kind == "ranking":
        return parsed
    a, b, outcome, feats = parsed
    ranking = [[a], [b]] if outcome == 0 else [[b], [a]] if outcome == 1 else [[a, b]]
    return ranking, 1.0, (None if feats is None else {a: feats[0], b: feats[1]})


def _parse_line_record(rec: Any, line: int, both_bad: str, style: bool) -> tuple[str | None, Any]:
    """("ranking", (ranking, weight, features)) or ("arena", (a, b, outcome, features)), or
    (None, None) for a record to leave out; raises BadRecord naming the line."""
    if not isinstance(rec, dict):
        raise BadRecord(line, "a record must be a JSON object.")
    if "ranking" in rec:
        return "ranking", _ranking_record(rec, line)
    missing = [k for k in ("model_a", "model_b", "winner") if rec.get(k) is None]
    if missing:
        if len(missing) == 3:
            raise BadRecord(
                line, "neither a ranking record ('ranking') nor a battle (model_a, model_b, winner)."
            )
        raise BadRecord(line, f"a battle needs model_a, model_b and winner; {', '.join(missing)} missing.")
    a, b, winner = rec["model_a"], rec["model_b"], rec["winner"]
    for key, name in (("model_a", a), ("model_b", b)):
        if not isinstance(name, str) or not name:
            raise BadRecord(line, f"{key} must be a non-empty model name, got {name!r}.")
    if a == b:
        raise BadRecord(line, f"model_a and model_b are the same model {a!r}.")
    if winner not in WINNERS:
        raise BadRecord(
            line, f"unknown winner {winner!r} names no model (model_a, model_b, tie or tie (bothbad))."
        )
    outcome = WINNERS.index(winner)
    if outcome == 3:
        if both_bad == "drop":
            return None, None
        outcome = 2
    meta = rec.get("conv_metadata")
    feats = _battle_features(meta, line) if style and isinstance(meta, dict) else None
    return "arena", (a, b, outcome, feats)


def _ranking_record(rec: dict[str, Any], line: int) -> tuple[Any, Any, Any]:
    """(ranking, weight, features) of a ranking record; raises BadRecord naming the line."""
    feats = rec.get("features")
    if feats is not None and not isinstance(feats, dict):
        raise BadRecord(line, "'features' must be an object of model -> counts.")
    try:
        canonical_ranking(rec["ranking"])
    except ValueError as err:
        raise BadRecord(line, str(err)) from None
    return rec["ranking"], rec.get("weight", 1.0), feats


def _battle_features(meta: dict[str, Any], line: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """Both answers' style counts from a battle's conv_metadata; raises BadRecord naming the line."""
    feats = (arena_features(meta, "a"), arena_features(meta, "b"))
    for f in feats:
        for name, v in f.items():
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not v >= 0:
                raise BadRecord(
                    line, f"conv_metadata's {name} count must be a non-negative number, got {v!r}."
                )
    return feats


def read_dump(
    path: Any, both_bad: str = "tie", skip_bad: bool = False, style: bool = False, keep_order: bool = False
) -> Dump:
    """Read a judgment file into a ``Dump``. ``style``: read style features (conv_metadata) too;
    ``keep_order``: keep battles in file order (Elo, Bayesian and style control replay them);
    ``skip_bad``: leave out bad records and list them in ``skipped`` instead of raising."""
    if both_bad not in ("tie", "drop"):
        raise ValueError(f"both_bad must be 'tie' or 'drop', got {both_bad!r}.")
    with open(path, "rb") as fh:
        head = fh.read(1 << 16)
    first = head.lstrip()[:1]
    if not first:
        raise ValueError(f"{path}: the file holds no records.")
    if first == b"{" and b'"ranking"' not in head.lstrip().split(b"\n", 1)[0]:
        dump = _read_battles_columnar(path, both_bad, style, keep_order)
        if dump is not None:
            return dump
    return _read_lines(path, both_bad, skip_bad, style, keep_order)


def _read_battles_columnar(path: Any, both_bad: str, style: bool, keep_order: bool) -> Dump | None:
    """The fast path for a clean battle dump; None when the file needs the line-by-line reader."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.json as pj

    fields = [("model_a", pa.string()), ("model_b", pa.string()), ("winner", pa.string())]
    if style:
        meta_type = _meta_type(path)
        if meta_type is None:
            return None
        fields.append(("conv_metadata", meta_type))
    try:
        table = pj.read_json(
            path,
            read_options=pj.ReadOptions(block_size=BLOCK_BYTES),
            parse_options=pj.ParseOptions(
                explicit_schema=pa.schema(fields), unexpected_field_behavior="ignore"
            ),
        )
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None  # not JSON lines, or a value of another type: the line reader says where
    if table.num_rows == 0 or any(table.column(k).null_count for k, _ in fields):
        return None
    a = table.column("model_a").combine_chunks()
    b = table.column("model_b").combine_chunks()
    names_enc = pa.concat_arrays([a, b]).dictionary_encode()
    models = names_enc.dictionary.to_pylist()
    codes = _numpy(names_enc.indices)
    n = table.num_rows
    ia, ib = codes[:n].astype(np.int64), codes[n:].astype(np.int64)
    win_enc = table.column("winner").combine_chunks().dictionary_encode()
    lut = np.array(
        [WINNERS.index(w) if w in WINNERS else -1 for w in win_enc.dictionary.to_pylist()], dtype=np.int64
    )
    outcome = lut[_numpy(win_enc.indices)]
    if (outcome < 0).any() or (ia == ib).any() or "" in models:
        return None
    feats = None
    if style:
        meta = table.column("conv_metadata").combine_chunks()
        feats = np.empty((2, n, len(FEATURES)))
        for s, side in enumerate("ab"):
            for k, name in enumerate(FEATURES):
                key = _META_FIELDS[name].format(side=side)
                if meta.type.get_field_index(key) < 0:
                    return None
                col = _summed(pc.struct_field(meta, key), pa, pc)
                if col is None:
                    return None
                feats[s, :, k] = col
        if not np.isfinite(feats).all() or (feats < 0).any():
            return None
    if both_bad == "drop":
        keep = outcome != 3
        ia, ib, outcome = ia[keep], ib[keep], outcome[keep]
        if feats is not None:
            feats = feats[:, keep]
    outcome = np.minimum(outcome, 2)
    judgments = Judgments.from_pair_outcomes(models, ia, ib, outcome, keep_order=keep_order or style)
    flat = _flat_features(ia, ib, outcome, feats[0], feats[1]) if feats is not None else None
    return Dump(judgments=judgments, features=flat, kind="arena", records=n)


def _summed(arr: Any, pa: Any, pc: Any) -> Any:
    """A count column as floats: a number, or a struct of per-level numbers summed (nulls as 0)."""
    if pa.types.is_struct(arr.type):
        total = np.zeros(len(arr))
        for child in arr.flatten():
            part = _summed(child, pa, pc)
            if part is None:
                return None
            total += part
        return total
    if not (pa.types.is_integer(arr.type) or pa.types.is_floating(arr.type)):
        return None
    return _numpy(arr, nulls_as_zero=True).astype(float)


def _numpy(arr: Any, nulls_as_zero: bool = False) -> Any:
    """A numeric Arrow array as a numpy array read from its buffers (Array.to_numpy and
    pyarrow.compute.fill_null with a Python value import pandas: most of a second of start-up)."""
    import pyarrow as pa

    t = arr.type
    if not (pa.types.is_integer(t) or pa.types.is_floating(t)) or (arr.null_count and not nulls_as_zero):
        raise ValueError(f"Expected a numeric column without nulls, got {t} with {arr.null_count} nulls.")
    kind = "f" if pa.types.is_floating(t) else "u" if pa.types.is_unsigned_integer(t) else "i"
    n = len(arr)
    values = np.frombuffer(arr.buffers()[1], dtype=f"{kind}{t.bit_width // 8}")[arr.offset : arr.offset + n]
    if arr.null_count:
        bits = np.unpackbits(np.frombuffer(arr.buffers()[0], dtype=np.uint8), bitorder="little")
        values = np.where(bits[arr.offset : arr.offset + n].astype(bool), values, 0)
    return values


def _meta_type(path: Any, sample_bytes: int = 1 << 20) -> Any:
    """conv_metadata's Arrow type, inferred from the file's first megabyte of whole lines.
    Count dicts name their levels (h1..h6, ordered/unordered, **/__) in every record of a dump."""
    import io

    import pyarrow as pa
    import pyarrow.json as pj

    with open(path, "rb") as fh:
        sample = fh.read(sample_bytes)
    if len(sample) == sample_bytes:
        sample = sample[: sample.rfind(b"\n") + 1]
    try:
        table = pj.read_json(io.BytesIO(sample))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    if "conv_metadata" not in table.column_names:
        return None
    return table.schema.field("conv_metadata").type


def _flat_features(ia: Any, ib: Any, outcome: Any, fa: Any, fb: Any) -> Any:
    """Per battle the two models' raw counts in the order its ranking lists them (winner first;
    a tie lists the lower model index first), stacked: style_pairs_flat's layout."""
    a_first = (outcome == 0) | ((outcome == 2) & (ia < ib))
    flat = np.empty((2 * len(ia), len(FEATURES)))
    flat[0::2] = np.where(a_first[:, None], fa, fb)
    flat[1::2] = np.where(a_first[:, None], fb, fa)
    return flat


def _lines(path: Any) -> Iterator[tuple[int, Any]]:
    """(line number, parsed record or the exception) for every non-blank line (or array item)."""
    with open(path, "rb") as fh:
        data = fh.read()
    stripped = data.lstrip()
    if stripped.startswith(b"["):
        try:
            items = orjson.loads(stripped)
        except orjson.JSONDecodeError as err:
            raise ValueError(f"{path}: not valid JSON ({err}).") from None
        if not isinstance(items, list):
            raise ValueError(f"{path}: not a JSON array of records.")
        for i, rec in enumerate(items, start=1):
            yield i, rec
        return
    for i, line in enumerate(data.split(b"\n"), start=1):
        if line.strip():
            try:
                yield i, orjson.loads(line)
            except orjson.JSONDecodeError as err:
                yield i, BadRecord(i, f"not valid JSON ({err.args[0] if err.args else err}).")


def _read_lines(path: Any, both_bad: str, skip_bad: bool, style: bool, keep_order: bool) -> Dump:
    skipped: list[tuple[int, str]] = []
    battles: list[Any] = []
    rankings: list[Any] = []
    records = 0
    for line, rec in _lines(path):
        records += 1
        try:
            if isinstance(rec, BadRecord):
                raise rec
            kind, parsed = _parse_line_record(rec, line, both_bad, style)
        except BadRecord as err:
            if not skip_bad:
                raise ValueError(f"{path}, {err}") from None
            skipped.append((err.line, err.reason))
            continue
        if kind == "arena":
            if style and parsed[3] is None:
                reason = "no conv_metadata for --style-control."
                if not skip_bad:
                    raise ValueError(f"{path}, line {line}: {reason}")
                skipped.append((line, reason))
                continue
            battles.append(parsed)
        elif kind == "ranking":
            rankings.append(parsed)
    if not battles and not rankings:
        raise ValueError(f"{path}: no usable records ({len(skipped)} skipped).")
    if rankings:  # ranking records (battles among them become rankings too)
        out = [r for r in rankings]
        for a, b, outcome, feats in battles:
            out.append(
                (
                    [[a], [b]] if outcome == 0 else [[b], [a]] if outcome == 1 else [[a, b]],
                    1.0,
                    None if feats is None else {a: feats[0], b: feats[1]},
                )
            )
        feats = [f for _, _, f in out]
        return Dump(
            judgments=[r for r, _, _ in out],
            weights=[w for _, w, _ in out],
            features=feats if all(f is not None for f in feats) else None,
            kind="ranking",
            records=records,
            skipped=skipped,
        )
    models, codes = np.unique(
        np.array([x for a, b, _, _ in battles for x in (a, b)], dtype=object), return_inverse=True
    )
    codes = codes.reshape(-1, 2)
    ia, ib = codes[:, 0].astype(np.int64), codes[:, 1].astype(np.int64)
    outcome = np.array([o for _, _, o, _ in battles], dtype=np.int64)
    flat = None
    if style:
        fa = np.array([[f[0][k] for k in FEATURES] for *_, f in battles], dtype=float)
        fb = np.array([[f[1][k] for k in FEATURES] for *_, f in battles], dtype=float)
        flat = _flat_features(ia, ib, outcome, fa, fb)
    judgments = Judgments.from_pair_outcomes(list(models), ia, ib, outcome, keep_order=keep_order or style)
    return Dump(judgments=judgments, features=flat, kind="arena", records=records, skipped=skipped)


def read_judgments(path: Any, both_bad: str = "tie") -> tuple[list[Any], list[float], list[Any] | None]:
    """(rankings, weights, features or None) from a JSONL (or JSON array) file: the library's
    list-of-rankings form of ``read_dump`` (features as one {model: counts} dict per ranking)."""
    rankings: list[Any] = []
    weights: list[float] = []
    features: list[Any] = []
    for line, rec in _lines(path):
        if isinstance(rec, BadRecord):
            raise ValueError(f"{path}, {rec}")
        try:
            parsed = parse_record(rec, line, both_bad)
        except BadRecord as err:
            raise ValueError(f"{path}, {err}") from None
        if parsed is None:
            continue
        r, w, f = parsed
        rankings.append(r)
        weights.append(w)
        features.append(f)
    feats = features if features and all(f is not None for f in features) else None
    return rankings, weights, feats


__all__ = ["read_dump", "read_judgments", "parse_record", "arena_features", "Dump", "FEATURES", "WINNERS"]
