"""Small numpy and Arrow helpers of the export's page-at-a-time work (no Django)."""

import json

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc


def arrays(table):
    """A table's columns as single Arrow arrays (take and friends then return arrays too)."""
    return {
        name: column.chunk(0) if column.num_chunks == 1 else column.combine_chunks()
        for name, column in zip(table.column_names, table.columns)
    }


def ragged(starts, lengths):
    """Concatenated ranges [start, start + length) for each pair, as one index array."""
    lengths = np.asarray(lengths, dtype=np.int64)
    total = int(lengths.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    shift = np.repeat(
        np.asarray(starts, dtype=np.int64) - np.concatenate(([0], np.cumsum(lengths)[:-1])), lengths
    )
    return shift + np.arange(total, dtype=np.int64)


def codes(array):
    """Dense integer codes of an Arrow array's values (nulls get their own code) and, for each
    code, one row where it occurs."""
    encoded = pc.dictionary_encode(array)
    codes = encoded.indices.to_numpy(zero_copy_only=False)
    if encoded.indices.null_count:
        codes = np.where(
            encoded.indices.is_null().to_numpy(zero_copy_only=False), len(encoded.dictionary), codes
        )
    return codes.astype(np.int64), encoded.dictionary


def by_distinct(columns, rows, fn, type_):
    """fn(*values) once per distinct combination of ``columns`` among ``rows`` (an index array),
    as an Arrow array with one value per row."""
    if len(rows) == 0:
        return pa.array([], type=type_)
    key = np.zeros(len(rows), dtype=np.int64)
    for column in columns:
        codes_, dictionary = codes(column.take(pa.array(rows)))
        key = key * (len(dictionary) + 1) + codes_
    _, first, inverse = np.unique(key, return_index=True, return_inverse=True)
    values = [column.take(pa.array(rows[first])).to_pylist() for column in columns]
    distinct = pa.array([fn(*v) for v in zip(*values)], type=type_)
    return distinct.take(pa.array(inverse.reshape(-1)))


def counts(values):
    """{value: count} of an integer array, for the card's length statistics."""
    found, counts = np.unique(values, return_counts=True)
    return dict(zip(found.tolist(), counts.tolist()))


def one_each(values, type_):
    """A list array holding one value per row."""
    return pa.ListArray.from_arrays(
        pa.array(np.arange(len(values) + 1, dtype=np.int32)), values, type=pa.list_(type_)
    )


def json_value(text):
    """orjson's parse (several times faster), or the standard library's for what orjson refuses
    (numbers beyond 64 bits); both give the same values for everything else."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


def tags(text):
    tags = json_value(text) if text else None
    return sorted({str(t) for t in tags}) if tags else []
