"""A CHECK on the year range of every time stored from Graph (conversations.models).

Rows written before the check may hold such times: PostgreSQL cannot give them back to Python,
and the check cannot be added over them. Their conversations are deleted first (with their
messages and events), which leaves what the parser now produces for that data: nothing
stored, and the next full sync lists each of them as a problem.
"""

import datetime

from django.db import migrations, models

START = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)
END = datetime.datetime(2101, 1, 1, tzinfo=datetime.UTC)


def delete_conversations_with_times_out_of_range(apps, schema_editor):
    connection = schema_editor.connection
    quote = connection.ops.quote_name
    start, end = (connection.ops.adapt_datetimefield_value(value) for value in (START, END))

    def table(model_name):
        return quote(apps.get_model("conversations", model_name)._meta.db_table)

    def out_of_range(column):
        return f"({quote(column)} < %s OR {quote(column)} >= %s)"

    # Only ids are read: the times themselves are what PostgreSQL cannot return.
    bad = (
        f"SELECT id FROM {table('Conversation')} "
        f"WHERE {out_of_range('updated_time')} OR {out_of_range('last_message_at')} "
        f"UNION SELECT conversation_id FROM {table('Message')} "
        f"WHERE {out_of_range('created_time')} "
        f"UNION SELECT conversation_id FROM {table('InteractionEvent')} "
        f"WHERE {out_of_range('occurred_at')}"
    )
    params = [start, end] * 4
    with connection.cursor() as cursor:
        cursor.execute(bad, params)
        ids = [row[0] for row in cursor.fetchall()]
        for start_index in range(0, len(ids), 500):
            chunk = ids[start_index : start_index + 500]
            marks = ", ".join(["%s"] * len(chunk))
            for model_name in ("InteractionEvent", "Message"):
                cursor.execute(
                    f"DELETE FROM {table(model_name)} WHERE conversation_id IN ({marks})", chunk
                )
            cursor.execute(f"DELETE FROM {table('Conversation')} WHERE id IN ({marks})", chunk)
        if ids and connection.vendor == "postgresql":
            # The deletes left deferred foreign-key checks pending, and PostgreSQL refuses to
            # ALTER a table with pending checks in the same transaction: run them now.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")


def in_range(field, *, nullable=False):
    condition = models.Q(**{f"{field}__gte": START, f"{field}__lt": END})
    if nullable:
        condition |= models.Q(**{f"{field}__isnull": True})
    return condition


class Migration(migrations.Migration):
    dependencies = [
        ("conversations", "0001_initial"),
    ]

    operations = [
        migrations.RunPython(
            delete_conversations_with_times_out_of_range, migrations.RunPython.noop
        ),
        migrations.AddConstraint(
            model_name="conversation",
            constraint=models.CheckConstraint(
                condition=in_range("updated_time"),
                name="conversations_conversation_updated_time_in_range",
            ),
        ),
        migrations.AddConstraint(
            model_name="conversation",
            constraint=models.CheckConstraint(
                condition=in_range("last_message_at", nullable=True),
                name="conversations_conversation_last_message_at_in_range",
            ),
        ),
        migrations.AddConstraint(
            model_name="message",
            constraint=models.CheckConstraint(
                condition=in_range("created_time"),
                name="conversations_message_created_time_in_range",
            ),
        ),
        migrations.AddConstraint(
            model_name="interactionevent",
            constraint=models.CheckConstraint(
                condition=in_range("occurred_at"),
                name="conversations_interactionevent_occurred_at_in_range",
            ),
        ),
    ]
