"""The channel provider contract: the sandbox, SMPP, RCS and email pass the same tests.

Each backend's subclass names its peer (``channel_fixtures``): a started provider, the sink
it reports to, and the other side of its protocol, whose view of what it was handed is
what the tests count. Providers that can take a message back (``RevokingProvider``) also
pass the revocation tests; the others declare that they cannot.
"""

from __future__ import annotations

import asyncio

import pytest

from chainon.adapters.channels.port import RevokingProvider
from chainon.domain.message_status import MessageStatus
from tests.integration.channel_fixtures import (  # noqa: F401  (the peers' fixtures)
    ChannelPeer,
    email_peer_fixture,
    rbm_fixture,
    rbm_servers_fixture,
    rcs_peer_fixture,
    revoke_of,
    sandbox_peer_fixture,
    smpp_peer_fixture,
    smsc_fixture,
)


class ChannelProviderContract:
    """Every provider must pass these. Subclasses provide ``peer``."""

    @pytest.fixture
    def peer(self) -> ChannelPeer:
        raise NotImplementedError("each backend's subclass provides a started peer")

    async def test_the_provider_carries_its_channel_and_declares_whether_it_revokes(
        self, peer: ChannelPeer
    ) -> None:
        assert peer.channel in peer.provider.channels
        assert isinstance(peer.provider, RevokingProvider) is peer.revokes

    async def test_a_receipt_names_the_message_the_send_returned(self, peer: ChannelPeer) -> None:
        accepted = await peer.provider.send(peer.message())
        assert accepted.provider == peer.provider.name
        (receipt,) = await peer.receipts()
        assert receipt.provider == peer.provider.name
        assert receipt.provider_message_id == accepted.provider_message_id
        assert receipt.status is MessageStatus.DELIVERED

    async def test_two_messages_are_two_copies_under_two_ids(self, peer: ChannelPeer) -> None:
        first, second = peer.message(), peer.message()
        one, two = await peer.provider.send(first), await peer.provider.send(second)
        assert one.provider_message_id != two.provider_message_id
        receipts = await self.receipts_for_both(peer)
        assert sorted(r.provider_message_id for r in receipts) == sorted(
            [one.provider_message_id, two.provider_message_id]
        )
        assert (await peer.copies(first), await peer.copies(second)) == (1, 1)

    @staticmethod
    async def receipts_for_both(peer: ChannelPeer) -> list[object]:
        for _ in range(200):
            receipts = await peer.receipts()
            if len(receipts) >= 2:
                return list(receipts)
            await asyncio.sleep(0.05)
        raise AssertionError(f"only {len(peer.sink.receipts)} of 2 receipts came")


class IdempotentSendContract:
    """``ChannelProvider.send``: "Must be idempotent on ``message_id``"."""

    async def test_sending_a_message_again_hands_the_peer_one_copy_under_one_id(
        self, peer: ChannelPeer
    ) -> None:
        message = peer.message()
        first = await peer.provider.send(message)
        again = await peer.provider.send(message)  # a redelivered outbound record
        assert again.provider_message_id == first.provider_message_id
        assert again == first
        (receipt,) = await peer.receipts()
        assert receipt.provider_message_id == first.provider_message_id
        await asyncio.sleep(peer.settle)  # time for a second copy, had one gone
        await peer.pump()
        assert await peer.copies(message) == 1
        assert len(peer.sink.receipts) == 1


class RevocationContract:
    """A provider that revokes takes back what is undelivered and says so of the rest."""

    async def test_revoking_a_delivered_message_says_it_was_already_delivered(
        self, peer: ChannelPeer
    ) -> None:
        assert isinstance(peer.provider, RevokingProvider)
        message = peer.message()
        accepted = await peer.provider.send(message)
        (receipt,) = await peer.receipts()
        assert receipt.status is MessageStatus.DELIVERED
        answer = await peer.provider.revoke(revoke_of(message, accepted))
        assert answer.result == "already_delivered"

    async def test_revoking_an_undelivered_message_takes_it_back_and_says_so_again(
        self, peer: ChannelPeer
    ) -> None:
        assert isinstance(peer.provider, RevokingProvider)
        message = await peer.undelivered()
        accepted = await peer.provider.send(message)
        request = revoke_of(message, accepted)
        assert (await peer.provider.revoke(request)).result == "revoked"
        assert (await peer.provider.revoke(request)).result == "revoked"  # asked again
        await asyncio.sleep(peer.settle)
        await peer.pump()
        assert peer.sink.receipts == []
        assert await peer.copies(message) == 0


class TestSandboxProvider(ChannelProviderContract, IdempotentSendContract, RevocationContract):
    @pytest.fixture
    def peer(self, sandbox_peer: ChannelPeer) -> ChannelPeer:
        return sandbox_peer


class TestSmppProvider(ChannelProviderContract, IdempotentSendContract):
    @pytest.fixture
    def peer(self, smpp_peer: ChannelPeer) -> ChannelPeer:
        return smpp_peer


class TestRcsProvider(ChannelProviderContract, IdempotentSendContract, RevocationContract):
    @pytest.fixture
    def peer(self, rcs_peer: ChannelPeer) -> ChannelPeer:
        return rcs_peer


class TestEmailProvider(ChannelProviderContract, IdempotentSendContract):
    @pytest.fixture
    def peer(self, email_peer: ChannelPeer) -> ChannelPeer:
        return email_peer
