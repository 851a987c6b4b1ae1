"""INSERTs of the attempt path, with their SQL built once per model.

The ORM's `create()` compiles its INSERT on every call: on the correct-flag path
that cost more than the round trips themselves (bench/README.md). These build
the statement once per (model, returning) and only adapt the values, with the
fields' own defaults and conversions, so a row is the one `create()` writes.
No signal is sent: nothing listens to these models' saves.
"""

from functools import lru_cache

from django.db import connection


@lru_cache(maxsize=32)
def _statement(model, returning: bool) -> tuple[str, tuple]:
    fields = tuple(f for f in model._meta.concrete_fields if not f.primary_key)
    quote = connection.ops.quote_name
    sql = "INSERT INTO {} ({}) VALUES ({})".format(  # noqa: S608  (names from models)
        quote(model._meta.db_table),
        ", ".join(quote(f.column) for f in fields),
        ", ".join(["%s"] * len(fields)),
    )
    if returning:
        sql += f" RETURNING {quote(model._meta.pk.column)}"
    return sql, fields


def insert(model, *, returning: bool = False, **values) -> int | None:
    """Insert one row of `model` (values by attribute name, e.g. `principal_id`;
    the others take their defaults); its primary key if `returning`."""
    keys = insert_many(model, [values], returning=returning)
    return keys[0] if returning else None


def insert_many(model, rows: list[dict], *, returning: bool = False) -> list:
    """Insert `rows` of `model` in one statement each (see `insert`)."""
    sql, fields = _statement(model, returning)
    keys = []
    with connection.cursor() as cursor:
        for values in rows:
            cursor.execute(
                sql,
                [
                    f.get_db_prep_save(
                        values[f.attname] if f.attname in values else f.get_default(),
                        connection,
                    )
                    for f in fields
                ],
            )
            if returning:
                keys.append(cursor.fetchone()[0])
    return keys
