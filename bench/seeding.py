"""Seeding bench databases fast: rows written with PostgreSQL's COPY, then the id sequences
moved past them and the planner's statistics refreshed."""

_FILLER = {
    "text": "",
    "character varying": "",
    "jsonb": "{}",
    "boolean": False,
    "smallint": 0,
    "integer": 0,
    "bigint": 0,
    "double precision": 0.0,
    "timestamp with time zone": "2026-01-01T00:00:00Z",
}
SEEDED_TABLES = (
    "inference_prompt",
    "inference_response",
    "annotation_comparison",
    "annotation_comparisonslot",
    "annotation_judgment",
)


def _model_defaults(table):
    """{column: the Django field's default} for the model on this table (a check constraint may need
    the real default, e.g. Response.kind "text", where a neutral value would break it)."""
    import json

    from django.apps import apps

    for model in apps.get_models():
        if model._meta.db_table == table:
            return {
                f.column: (
                    json.dumps(f.get_default())
                    if isinstance(f.get_default(), (dict, list))
                    else f.get_default()
                )
                for f in model._meta.concrete_fields
                if f.has_default() and not callable(f.default)
            }
    return {}


def copy_rows(cur, table, columns, rows):
    """COPY rows into table; NOT NULL columns the bench does not know (added by later
    features) get their field's default, or a neutral value of their type, so the seed keeps
    working as the schema grows."""
    defaults = _model_defaults(table)
    extra = [
        (name, defaults[name] if name in defaults else _FILLER[kind])
        for name, kind in cur.execute(
            "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = %s "
            "AND is_nullable = 'NO' AND column_default IS NULL",
            (table,),
        ).fetchall()
        if name not in columns
    ]
    names = ", ".join([*columns, *(name for name, _ in extra)])
    tail = tuple(value for _, value in extra)
    with cur.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row + tail)


def finish(raw, tables=SEEDED_TABLES):
    """After COPY with explicit ids: sequences past the largest id, fresh planner statistics."""
    for table in tables:
        raw.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT MAX(id) FROM {table}))")
    raw.execute("ANALYZE")
