"""Batched JSONL and Parquet writers. They write inside a temporary folder that the
export service renames into place only when everything is written."""

import gc
import json

import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

BATCH_ROWS = 10_000


def _float_columns(schema):
    """(top-level float64 columns, list<struct> columns with float64 children) of a schema."""
    top, nested = [], []
    for f in schema:
        if pa.types.is_floating(f.type):
            top.append(f.name)
        elif pa.types.is_list(f.type) and pa.types.is_struct(f.type.value_type):
            children = [c.name for c in f.type.value_type if pa.types.is_floating(c.type)]
            if children:
                nested.append((f.name, children))
    return top, nested


def _orjson_float(value):
    """True when orjson writes this float exactly as Python's json does (both use the shortest
    round-trip digits; they differ only in exponent notation below 1e-4 and for NaN/inf)."""
    return value.__class__ is not float or value == 0.0 or 1e-4 <= abs(value) < 1e16


class JsonlWriter:
    """One JSON object per line, byte for byte what ``json.JSONEncoder(ensure_ascii=False,
    separators=(",", ":"))`` writes. orjson encodes (several times faster); a row holding a
    float orjson would spell differently (tiny, huge, NaN) is encoded by the standard library."""

    suffix = "jsonl"

    def __init__(self, path, schema):
        self.path = path
        # Lines go straight into a 1 MiB buffer: orjson's bytes carry spare capacity, so a list
        # of them would hold several times the text.
        self._file = open(path, "wb", buffering=1 << 20)
        self._dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
        self._floats, self._nested_floats = _float_columns(schema)

    def _encode(self, row):
        for name in self._floats:
            value = row.get(name)
            if value.__class__ is float and not (
                1e-4 <= value < 1e16 or -1e16 < value <= -1e-4 or value == 0.0
            ):
                return (self._dumps(row) + "\n").encode("utf-8")
        for name, children in self._nested_floats:
            for item in row.get(name) or ():
                for child in children:
                    value = item.get(child)
                    if value is not None and not _orjson_float(value):
                        return (self._dumps(row) + "\n").encode("utf-8")
        return orjson.dumps(row, option=orjson.OPT_APPEND_NEWLINE)

    def write(self, row):
        self._file.write(self._encode(row))

    def _orjson_safe(self, table):
        """True when no float of the table is one orjson spells differently (_encode's check,
        for a whole table at once)."""
        if self._nested_floats:
            return False
        for name in self._floats:
            magnitude = pc.abs(table[name])
            fine = pc.or_(
                pc.equal(magnitude, 0.0), pc.and_(pc.greater_equal(magnitude, 1e-4), pc.less(magnitude, 1e16))
            )
            if not pc.all(fine.fill_null(True)).as_py():
                return False
        return True

    def write_table(self, table, slice_rows=1024):
        """The rows of an Arrow table in the writer's schema, encoded exactly as write() would.
        Slices keep the Python objects of only a thousand rows alive at once."""
        names = table.column_names
        # The rows make many short-lived containers and no cycles; the cyclic collector would
        # walk them again and again (it doubled the time), so it waits until the table is done.
        collecting = gc.isenabled()
        gc.disable()
        try:
            dumps, option, encode = orjson.dumps, orjson.OPT_APPEND_NEWLINE, self._encode
            safe = self._orjson_safe(table)
            write = self._file.write  # line by line into the 1 MiB buffer: no joined copy
            for start in range(0, table.num_rows, slice_rows):
                columns = [column.to_pylist() for column in table.slice(start, slice_rows).columns]
                for values in zip(*columns):
                    row = dict(zip(names, values))
                    write(dumps(row, option=option) if safe else encode(row))
        finally:
            if collecting:
                gc.enable()

    def close(self):
        self._file.close()

    def abort(self):
        self._file.close()


def _column(rows, name):
    get = dict.get
    return [get(row, name) for row in rows]


class ParquetWriter:
    """Row groups of BATCH_ROWS rows, whether the rows come one by one (turned into Arrow
    column by column: the arrays ``Table.from_pylist`` builds, without its per-row dictionary
    walk) or as Arrow tables."""

    suffix = "parquet"

    def __init__(self, path, schema):
        self.path = path
        self.schema = schema
        self._writer = pq.ParquetWriter(path, schema, compression="zstd")
        self._rows = []
        self._tables = []
        self._pending = 0

    def write(self, row):
        self._rows.append(row)
        if len(self._rows) >= BATCH_ROWS:
            self._take_rows()

    def write_table(self, table):
        self._take_rows()
        self._add(table)

    def _take_rows(self):
        if self._rows:
            rows = self._rows
            self._rows = []
            self._add(
                pa.Table.from_arrays(
                    [pa.array(_column(rows, f.name), type=f.type) for f in self.schema], schema=self.schema
                )
            )

    def _add(self, table, final=False):
        if table is not None and table.num_rows:
            self._tables.append(table)
            self._pending += table.num_rows
        if self._pending >= BATCH_ROWS or (final and self._pending):
            pending = pa.concat_tables(self._tables)
            written = 0
            while pending.num_rows - written >= BATCH_ROWS or (final and written < pending.num_rows):
                self._writer.write_table(pending.slice(written, BATCH_ROWS))
                written += min(BATCH_ROWS, pending.num_rows - written)
            rest = pending.slice(written)
            self._tables, self._pending = ([rest] if rest.num_rows else []), rest.num_rows

    def close(self):
        self._take_rows()
        self._add(None, final=True)
        self._writer.close()

    def abort(self):
        self._writer.close()


WRITERS = {"jsonl": (JsonlWriter,), "parquet": (ParquetWriter,), "both": (ParquetWriter, JsonlWriter)}


class SplitFiles:
    """One writer per file format for one split (train or test), created on first use
    so an empty split leaves no file, except train, which always exists."""

    def __init__(self, data_dir, split, file_format, schema):
        self.data_dir = data_dir
        self.split = split
        self.classes = WRITERS[file_format]
        self.schema = schema
        self.rows = 0
        self._writers = None

    def _open(self):
        self._writers = [
            cls(self.data_dir / f"{self.split}.{cls.suffix}", self.schema) for cls in self.classes
        ]

    def write(self, row):
        if self._writers is None:
            self._open()
        for writer in self._writers:
            writer.write(row)
        self.rows += 1

    def write_table(self, table):
        if self._writers is None:
            self._open()
        for writer in self._writers:
            writer.write_table(table)
        self.rows += table.num_rows

    def close(self, keep_empty=False):
        if self._writers is None and keep_empty:
            self._open()
        for writer in self._writers or ():
            writer.close()
        return [w.path for w in self._writers or ()]

    def abort(self):
        for writer in self._writers or ():
            try:
                writer.abort()
            except Exception:  # noqa: BLE001 - the export is failing already; the folder is removed next
                pass
