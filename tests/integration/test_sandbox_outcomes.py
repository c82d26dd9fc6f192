"""The sandbox's outcomes are shared through a file: an outcome set through the API (in
`chainon serve`'s parent) is what the sandbox that sends (in its child) does."""

from __future__ import annotations

from pathlib import Path
from uuid import uuid4

from chainon.adapters.channels.sandbox import SandboxOutcome, SandboxProvider
from chainon.adapters.channels.sandbox_outcomes import SharedOutcomes
from chainon.domain.channels import Channel

PHONE = "+33612345678"


def test_an_outcome_set_in_one_process_is_read_by_the_sandbox_of_another(tmp_path: Path) -> None:
    path = tmp_path / "outcomes.sqlite3"
    api, dispatch = (
        SandboxProvider(shared=SharedOutcomes(path)),
        SandboxProvider(shared=SharedOutcomes(path)),
    )
    brand = uuid4()
    assert dispatch.outcome_for(Channel.RCS, PHONE, brand) is SandboxOutcome.DELIVER
    api.set_outcome(PHONE, SandboxOutcome.SILENT, Channel.RCS, brand_id=brand)
    assert dispatch.outcome_for(Channel.RCS, PHONE, brand) is SandboxOutcome.SILENT
    assert dispatch.outcome_for(Channel.SMS, PHONE, brand) is SandboxOutcome.DELIVER
    assert dispatch.outcome_for(Channel.RCS, PHONE, uuid4()) is SandboxOutcome.DELIVER
    api.set_outcome(PHONE, SandboxOutcome.FAIL, Channel.RCS, brand_id=brand)  # changed again
    assert dispatch.outcome_for(Channel.RCS, PHONE, brand) is SandboxOutcome.FAIL
    api.set_outcome(PHONE, SandboxOutcome.NOT_CAPABLE)  # every brand
    assert dispatch.outcome_for(Channel.RCS, PHONE) is SandboxOutcome.NOT_CAPABLE


def test_outcomes_outlive_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "outcomes.sqlite3"
    before = SharedOutcomes(path)
    SandboxProvider(shared=before).set_outcome(PHONE, SandboxOutcome.FAIL)
    before.close()
    restarted = SandboxProvider(shared=SharedOutcomes(path))
    assert restarted.outcome_for(Channel.SMS, PHONE) is SandboxOutcome.FAIL
