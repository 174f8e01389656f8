"""The JSONL writer encodes with orjson but must write exactly the bytes the standard
library's json writes (ensure_ascii=False, compact separators), whatever the values."""

import json

import pyarrow as pa
import pyarrow.parquet as pq

from export.writers import JsonlWriter, ParquetWriter

SCHEMA = pa.schema(
    [
        ("text", pa.string()),
        ("score", pa.float64()),
        ("ids", pa.list_(pa.int64())),
        ("flag", pa.bool_()),
        ("aspects", pa.list_(pa.struct([("aspect", pa.string()), ("score", pa.float64())]))),
    ]
)
ODD_TEXT = "tab\there \"quoted\" back\\slash \x00\x1f\x7f é ü 中文 \U0001f600 \u2028\u2029 \ufeff\n"
FLOATS = [
    0.0,
    -0.0,
    1.0,
    2 / 3,
    0.5,
    1e-4,
    9.99e-5,
    1e-7,
    -3e-9,
    123456.789,
    1e15,
    1e16,
    1e21,
    -2.5e300,
    float("nan"),
    float("inf"),
    None,
]


def _rows():
    for i, value in enumerate(FLOATS):
        yield {
            "text": ODD_TEXT * (i % 3),
            "score": value,
            "ids": [i, 2**40 + i],
            "flag": i % 2 == 0,
            "aspects": [{"aspect": "a", "score": FLOATS[(i + 3) % len(FLOATS)]}],
        }


def test_jsonl_bytes_equal_the_standard_library(tmp_path):
    writer = JsonlWriter(tmp_path / "rows.jsonl", SCHEMA)
    for row in _rows():
        writer.write(row)
    writer.close()
    encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    expected = "".join(encode(row) + "\n" for row in _rows()).encode("utf-8")
    assert (tmp_path / "rows.jsonl").read_bytes() == expected


def test_parquet_bytes_equal_a_file_written_from_pylist(tmp_path):
    rows = list(_rows())
    writer = ParquetWriter(tmp_path / "rows.parquet", SCHEMA)
    for row in rows:
        writer.write(row)
    writer.close()
    with pq.ParquetWriter(tmp_path / "reference.parquet", SCHEMA, compression="zstd") as reference:
        reference.write_table(pa.Table.from_pylist(rows, schema=SCHEMA))
    assert (tmp_path / "rows.parquet").read_bytes() == (tmp_path / "reference.parquet").read_bytes()
