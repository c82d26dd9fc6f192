"""Every read model Chainon keeps, by name."""

from __future__ import annotations

from chainon.projections.agent_queue import AgentQueue
from chainon.projections.analytics import Analytics
from chainon.projections.campaign_stats import CampaignStats
from chainon.projections.conversation_list import ConversationList
from chainon.projections.crm_profile import CrmProfile
from chainon.projections.deferred_messages import DeferredMessages
from chainon.projections.destination_counts import DestinationCounts
from chainon.projections.dialogue_deadlines import DialogueDeadlines
from chainon.projections.fallback_deadlines import FallbackDeadlines
from chainon.projections.flow_stats import FlowStats
from chainon.projections.projection import Projection
from chainon.projections.receipt_deadlines import ReceiptDeadlines


def all_projections() -> list[Projection]:
    return [
        Analytics(),
        ConversationList(),
        AgentQueue(),
        CrmProfile(),
        FallbackDeadlines(),
        ReceiptDeadlines(),
        DeferredMessages(),
        CampaignStats(),
        DialogueDeadlines(),
        FlowStats(),
        DestinationCounts(),
    ]
