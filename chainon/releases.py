"""The release scheduler: deferred messages whose quiet hours ended become commands.

The fallback deadlines' pattern (``chainon.deadlines``), on the ``deferred_messages``
read model: no timer lives only in memory, a release that fell due while Chainon was
stopped is handed on at the first poll after the start, and a repeat is harmless because
the core releases a message only while it is still deferred.
"""

from __future__ import annotations

from chainon.adapters.bus.port import Outgoing
from chainon.deadlines import DeadlineScheduler
from chainon.domain import commands as cmd
from chainon.projections.deadline_queries import DueDeadline
from chainon.topic_records import dump


class ReleaseScheduler(DeadlineScheduler):
    log_event = "quiet_hours.releases_due"

    def _record(self, deadline: DueDeadline) -> Outgoing:
        command = cmd.ReleaseDeferredMessage(
            conversation_id=deadline.conversation_id, message_id=deadline.message_id
        )
        # Keyed by conversation, as the conversation's other records, so they stay in order.
        return Outgoing(self.topics.inbound, str(deadline.conversation_id), dump(command))
