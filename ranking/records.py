"""Reading judgment files: our ranking records and Chatbot Arena clean-battle records (no Django).

JSONL, one record a line (a JSON array of records is also accepted):
- ours: ``{"ranking": [["m1"], ["m2", "m3"]], "weight": 1.0?, "features": {model: {...}}?}``
- Chatbot Arena clean battles: ``model_a``, ``model_b``, ``winner`` in
  ``model_a | model_b | tie | tie (bothbad)``, and optionally ``conv_metadata`` with
  ``sum_assistant_a_tokens``, ``sum_assistant_b_tokens``, ``header_count_a/b``,
  ``list_count_a/b``, ``bold_count_a/b`` (each count a number or a dict of
  per-level counts, summed). "tie (bothbad)" is a tie unless ``both_bad="drop"``.
"""

import json

from .style import FEATURES


def _count(v):
    if isinstance(v, dict):
        return sum(_count(x) for x in v.values())
    if v is None:
        return 0
    return v


def arena_features(meta, side):
    return {
        "tokens": _count(meta.get(f"sum_assistant_{side}_tokens")),
        "headers": _count(meta.get(f"header_count_{side}")),
        "lists": _count(meta.get(f"list_count_{side}")),
        "bold": _count(meta.get(f"bold_count_{side}")),
    }


def parse_record(rec, line, both_bad="tie"):
    """(ranking, weight, features or None), or None for a record to skip."""
    if not isinstance(rec, dict):
        raise ValueError(f"Line {line}: a record must be a JSON object.")
    if "ranking" in rec:
        feats = rec.get("features")
        if feats is not None and not isinstance(feats, dict):
            raise ValueError(f"Line {line}: 'features' must be an object of model -> counts.")
        return rec["ranking"], rec.get("weight", 1.0), feats
    if {"model_a", "model_b", "winner"} <= rec.keys():
        a, b, winner = rec["model_a"], rec["model_b"], rec["winner"]
        if winner == "model_a":
            ranking = [[a], [b]]
        elif winner == "model_b":
            ranking = [[b], [a]]
        elif winner == "tie":
            ranking = [[a, b]]
        elif winner == "tie (bothbad)":
            if both_bad == "drop":
                return None
            ranking = [[a, b]]
        else:
            raise ValueError(f"Line {line}: unknown winner {winner!r} (model_a, model_b, tie or tie (bothbad)).")
        meta = rec.get("conv_metadata")
        feats = None
        if isinstance(meta, dict):
            feats = {a: arena_features(meta, "a"), b: arena_features(meta, "b")}
        return ranking, 1.0, feats
    raise ValueError(f"Line {line}: neither a ranking record ('ranking') nor a battle (model_a, model_b, winner).")


def read_judgments(path, both_bad="tie"):
    """(rankings, weights, features or None) from a JSONL (or JSON array) file."""
    with open(path, encoding="utf-8") as fh:
        text = fh.read()
    stripped = text.lstrip()
    if stripped.startswith("["):
        try:
            records = [(i + 1, r) for i, r in enumerate(json.loads(stripped))]
        except json.JSONDecodeError as err:
            raise ValueError(f"{path}: not valid JSON ({err}).") from None
    else:
        records = []
        for i, line in enumerate(text.splitlines(), start=1):
            if line.strip():
                try:
                    records.append((i, json.loads(line)))
                except json.JSONDecodeError as err:
                    raise ValueError(f"{path}, line {i}: not valid JSON ({err.msg}).") from None
    rankings, weights, features = [], [], []
    for line, rec in records:
        parsed = parse_record(rec, line, both_bad)
        if parsed is None:
            continue
        r, w, f = parsed
        rankings.append(r)
        weights.append(w)
        features.append(f)
    has_features = [f is not None for f in features]
    feats = features if features and all(has_features) else None
    return rankings, weights, feats


__all__ = ["read_judgments", "parse_record", "arena_features", "FEATURES"]
