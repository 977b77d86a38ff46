"""Single-statement inserts and upserts for the rows a sync writes most often."""

from __future__ import annotations

from django.db import connections, router


class ConflictIgnoringInsert:
    """`INSERT … VALUES (…), (…) ON CONFLICT DO NOTHING`: many rows in one statement.

    Equivalent to `bulk_create(ignore_conflicts=True)` (values go through each field's own
    database preparation, so JSON and datetimes are stored exactly as the ORM would), without
    building a model instance and compiling SQL per row. Messages and events are most of
    what a sync writes: this halves the time spent writing them on SQLite, and one statement
    instead of one per row (which is what executemany sends to PostgreSQL) matters more there.
    """

    ROWS_PER_STATEMENT = 500  # well under SQLite's and PostgreSQL's parameter limits

    def __init__(self, model, field_names: list[str]) -> None:
        self.model = model
        self.fields = [model._meta.get_field(name) for name in field_names]

    def insert(self, rows) -> int:
        """Insert `rows`; returns how many were inserted (the others conflicted)."""
        connection = connections[router.db_for_write(self.model)]
        prepared = [
            [
                field.get_db_prep_save(value, connection)
                for field, value in zip(self.fields, row, strict=True)
            ]
            for row in rows
        ]
        quote = connection.ops.quote_name
        table = quote(self.model._meta.db_table)
        columns = ", ".join(quote(field.column) for field in self.fields)
        one_row = "(" + ", ".join(["%s"] * len(self.fields)) + ")"
        with connection.cursor() as cursor:
            if connection.vendor == "sqlite":
                # SQLite's executemany reuses one prepared statement in C: faster still.
                cursor.executemany(
                    f"INSERT INTO {table} ({columns}) VALUES {one_row} ON CONFLICT DO NOTHING",
                    prepared,
                )
                return max(cursor.rowcount, 0)  # summed over the rows by executemany
            inserted = 0
            for start in range(0, len(prepared), self.ROWS_PER_STATEMENT):
                chunk = prepared[start : start + self.ROWS_PER_STATEMENT]
                values = ", ".join([one_row] * len(chunk))
                cursor.execute(
                    f"INSERT INTO {table} ({columns}) VALUES {values} ON CONFLICT DO NOTHING",
                    [value for row in chunk for value in row],
                )
                inserted += cursor.rowcount
        return inserted


class ReturningUpsert:
    """`INSERT … ON CONFLICT (key) DO UPDATE SET … RETURNING id` for one row: the
    equivalent of `bulk_create(update_conflicts=True)` for a single object, in one statement
    and without the ORM's per-call compilation (two of these run for every conversation).
    Values go through each field's database preparation, as the ORM would."""

    def __init__(self, model, field_names: list[str], unique: list[str], update: list[str]):
        self.model = model
        self.fields = [model._meta.get_field(name) for name in field_names]
        column = {name: model._meta.get_field(name).column for name in field_names}
        self.unique_columns = [column[name] for name in unique]
        self.update_columns = [column[name] for name in update]

    def upsert(self, *values) -> int:
        connection = connections[router.db_for_write(self.model)]
        quote = connection.ops.quote_name
        columns = ", ".join(quote(field.column) for field in self.fields)
        placeholders = ", ".join(["%s"] * len(self.fields))
        key = ", ".join(quote(c) for c in self.unique_columns)
        assignments = ", ".join(f"{quote(c)} = EXCLUDED.{quote(c)}" for c in self.update_columns)
        sql = (
            f"INSERT INTO {quote(self.model._meta.db_table)} ({columns}) VALUES ({placeholders}) "
            f"ON CONFLICT ({key}) DO UPDATE SET {assignments} RETURNING {quote('id')}"
        )
        params = [
            field.get_db_prep_save(value, connection)
            for field, value in zip(self.fields, values, strict=True)
        ]
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchone()[0]
