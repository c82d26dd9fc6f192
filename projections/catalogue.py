"""Every read model Chainon keeps, by name."""

from __future__ import annotations

from projections.agent_queue import AgentQueue
from projections.analytics import Analytics
from projections.campaign_stats import CampaignStats
from projections.conversation_list import ConversationList
from projections.crm_profile import CrmProfile
from projections.deferred_messages import DeferredMessages
from projections.destination_counts import DestinationCounts
from projections.dialogue_deadlines import DialogueDeadlines
from projections.fallback_deadlines import FallbackDeadlines
from projections.flow_stats import FlowStats
from projections.projection import Projection
from projections.receipt_deadlines import ReceiptDeadlines


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
