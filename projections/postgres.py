"""Read models in PostgreSQL, for the distributed mode."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eventsourcing.persistence import Tracking
from eventsourcing.postgres import PostgresDatastore, PostgresTrackingRecorder
from psycopg.sql import SQL, Identifier

from projections import conversation_list as cl


class PostgresConversationList(PostgresTrackingRecorder):
    def __init__(self, datastore: PostgresDatastore, **kwargs: Any) -> None:
        super().__init__(datastore, **kwargs)
        self._schema = Identifier(datastore.schema).as_string() + "."
        self.sql_create_statements.extend(SQL(self._sql(s)).format() for s in cl.CREATE)

    def _sql(self, statement: str) -> str:
        return statement.replace("{t}", self._schema).replace("{agg}", "string_agg(g.tag, ',')")

    def apply(self, events: Sequence[tuple[Any, Tracking]]) -> None:
        with self.datastore.transaction(commit=True) as curs:
            for event, tracking in events:
                for statement, params in cl.statements_for(event, tracking.notification_id):
                    curs.execute(SQL(self._sql(statement)).format(), params)
            self._insert_tracking(curs, events[-1][1])

    def search(self, where: cl.ConversationFilter) -> list[cl.ConversationSummary]:
        statement, params = cl.search_statement(where)
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(SQL(self._sql(statement)).format(), params)
            return [cl.summary_from_row(row) for row in curs.fetchall()]
