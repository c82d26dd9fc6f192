"""How `chainon serve` shares the roles among its processes, and when it gives up on a child."""

from __future__ import annotations

import pytest

from chainon.process_tree import RestartPolicy, role_label, split_roles
from chainon.roles import EVERY_ROLE, Role


@pytest.mark.parametrize("processes", [1, 2, 3])
def test_every_role_is_played_once_and_the_core_stays_in_the_parent(processes: int) -> None:
    parent, children = split_roles(processes)
    assert len(children) == processes - 1
    played = [*parent, *(role for child in children for role in child)]
    assert sorted(played) == sorted(EVERY_ROLE)
    assert Role.CORE in parent


def test_two_processes_put_every_stage_that_follows_the_store_in_one_child() -> None:
    parent, [child] = split_roles(2)
    assert parent == {Role.CORE}
    assert role_label(child) == "dispatch+relay+views+webhooks"


def test_three_processes_give_the_readers_of_every_event_a_child_of_their_own() -> None:
    _, children = split_roles(3)
    assert [role_label(child) for child in children] == ["views+webhooks", "dispatch+relay"]


def test_a_child_that_keeps_dying_is_given_up_on_within_the_window() -> None:
    policy = RestartPolicy(limit=5, window=60.0)
    assert all(policy.may_restart(float(second)) for second in range(5))
    assert not policy.may_restart(5.0)  # the sixth death in a minute


def test_deaths_older_than_the_window_are_forgotten() -> None:
    policy = RestartPolicy(limit=2, window=60.0)
    assert policy.may_restart(0.0)
    assert policy.may_restart(1.0)
    assert policy.may_restart(61.5)  # the first two are over a minute old
    assert policy.may_restart(62.0)
    assert not policy.may_restart(62.5)  # three within a minute
