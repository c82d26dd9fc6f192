"""Read models in the embedded SQLite database, beside the event store."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from eventsourcing.persistence import Tracking
from eventsourcing.sqlite import SQLiteTrackingRecorder

from projections import conversation_list as cl

_PYFORMAT = re.compile(r"%\((\w+)\)s")


def _sql(statement: str) -> str:
    return _PYFORMAT.sub(
        r":\1", statement.replace("{t}", "").replace("{agg}", "group_concat(g.tag, ',')")
    )


class SQLiteConversationList(SQLiteTrackingRecorder):
    def construct_create_table_statements(self) -> list[str]:
        return [*super().construct_create_table_statements(), *map(_sql, cl.CREATE)]

    def apply(self, events: Sequence[tuple[Any, Tracking]]) -> None:
        with self.datastore.transaction(commit=True) as c:
            for event, tracking in events:
                for statement, params in cl.statements_for(event, tracking.notification_id):
                    c.execute(_sql(statement), params)
            self._insert_tracking(c, events[-1][1])

    def search(self, where: cl.ConversationFilter) -> list[cl.ConversationSummary]:
        statement, params = cl.search_statement(where)
        with self.datastore.transaction(commit=False) as c:
            c.execute(_sql(statement), params)
            return [cl.summary_from_row(row) for row in c.fetchall()]
