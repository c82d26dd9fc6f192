"""The embedded mode's process tree: ``chainon serve`` and the children it supervises.

The core, the event store's only writer, stays in the parent with the API; the stages that
follow the store run in children of the same command so that a second core is used: the
views (projections, deadlines) and the relay with the dispatch and the webhooks. The
webhooks' worker reads every stored event into its outbox (a tenth of the parent's CPU
per inbound message when it ran there), which is following the store, not deciding.
Each child follows the store as a distributed worker does (SQLite in WAL mode: readers
never block the writer); all else between them is two pipes per child, so that neither
waits for its next poll: the parent writes a byte on one after each save (the child's
relay and views look at once), the child on the other once it is ready and after each
publish on the embedded log (the parent's core takes the dispatch's results at once).

A child that dies is started again (``embedded.child_restarted``, and the counter
``chainon_embedded_child_restarts_total``); one that keeps dying (more than
``MAX_RESTARTS`` deaths in ``RESTART_WINDOW`` seconds) stops the whole command with a
non-zero exit, since a tree that cannot follow its store would only pile up work. On
SIGTERM the parent stops its intake first (the API, the core), then the children, which
finish their batch; what they had not reached yet, each takes up from its tracked
position at the next start. The parent's ``/metrics`` answers the whole tree's metrics,
each child asked at the scrape over a third channel (see ``chainon.tree_metrics``).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any

import structlog
from prometheus_client import Counter, generate_latest
from prometheus_client.metrics_core import Metric

from chainon import tree_metrics
from chainon.errors import CannotStart
from chainon.observability import REGISTRY
from chainon.roles import EVERY_ROLE, Role

log = structlog.get_logger(__name__)
MAX_RESTARTS = 5
RESTART_WINDOW = 60.0  # seconds
START_WITHIN = 120.0  # seconds for a child to open the store and start its roles
STOP_GRACE = 15.0  # seconds a child has to finish its batch before it is killed
CHILD_COMMAND = "embedded-child"

RESTARTS = Counter(
    "chainon_embedded_child_restarts_total",
    "Children of `chainon serve` (embedded mode) started again after they died, by roles.",
    ["role"],
    registry=REGISTRY,
)

PARENT_ROLES = frozenset({Role.CORE})


class _Verdict:
    """Whether the tree gave up: read by ``chainon serve`` once its server stopped."""

    gave_up = False


def stop_the_command() -> None:
    """Stops ``chainon serve`` as a SIGTERM would, but to exit non-zero."""
    _Verdict.gave_up = True
    os.kill(os.getpid(), signal.SIGTERM)


def exit_code() -> int:
    return 1 if _Verdict.gave_up else 0


def split_roles(processes: int) -> tuple[frozenset[Role], list[frozenset[Role]]]:
    """The parent's roles and each child's, for ``CHAINON_EMBEDDED_PROCESSES``."""
    if processes <= 1:
        return EVERY_ROLE, []
    followers = EVERY_ROLE - PARENT_ROLES
    if processes == 2:
        return PARENT_ROLES, [followers]
    return PARENT_ROLES, [
        frozenset({Role.VIEWS, Role.WEBHOOKS}),
        followers - {Role.VIEWS, Role.WEBHOOKS},
    ]


def role_label(roles: frozenset[Role]) -> str:
    return "+".join(sorted(roles))


def process_label(roles: frozenset[Role]) -> str:
    """The ``process`` label of a child's samples on the parent's ``/metrics``."""
    return f"child:{role_label(roles)}"


@dataclass
class RestartPolicy:
    """Counts deaths in a sliding window: too many, and the tree gives up."""

    limit: int = MAX_RESTARTS
    window: float = RESTART_WINDOW
    deaths: deque[float] = field(default_factory=deque)

    def may_restart(self, now: float) -> bool:
        self.deaths.append(now)
        while self.deaths and self.deaths[0] <= now - self.window:
            self.deaths.popleft()
        return len(self.deaths) <= self.limit


@dataclass
class Child:
    roles: frozenset[Role]
    process: subprocess.Popen[bytes] | None = None
    wake: int | None = None  # the pipe the parent writes a byte on after each save
    asking: socket.socket | None = None  # where the parent asks for its metrics
    ready: bool = False  # it said so since it was last started
    policy: RestartPolicy = field(default_factory=RestartPolicy)


def child_command(roles: frozenset[Role]) -> list[str]:
    return [
        sys.executable,
        "-m",
        "chainon.cli",
        CHILD_COMMAND,
        "--parent",
        str(os.getpid()),
        *sorted(roles),
    ]


class ProcessTree:
    """Starts the children, restarts the dead ones, and stops them all."""

    def __init__(
        self,
        roles: Sequence[frozenset[Role]],
        *,
        give_up: Callable[[], None],
        worker_port: int = 0,
        command: Callable[[frozenset[Role]], list[str]] = child_command,
        policy: Callable[[], RestartPolicy] = RestartPolicy,
        published: Callable[[], Coroutine[Any, Any, None]] | None = None,
    ) -> None:
        """``published``: what to do when a child put records on the embedded log (wake
        this process's consumers of it)."""
        self.children = [Child(r, policy=policy()) for r in roles]
        self._give_up = give_up
        self._published = published
        self._listening: set[int] = set()  # the pipes children speak on, still open
        self._wakings: set[asyncio.Task[None]] = set()
        self.worker_port = worker_port
        self._command = command
        self._stopping = asyncio.Event()
        self._watch: asyncio.Task[None] | None = None
        self.gave_up = False
        self._wake_lock = threading.Lock()

    def _spawn(self, child: Child) -> asyncio.Future[bool]:
        """Starts the child; the future is true once it said it is ready, false if it
        ended first."""
        # Health and metrics on the ports after CHAINON_WORKER_PORT, when it is set.
        base = self.worker_port
        port = base + 1 + self.children.index(child) if base else 0
        env = {**os.environ, "CHAINON_WORKER_PORT": str(port)}
        ready_r, ready_w = os.pipe()
        wake_r, wake_w = os.pipe()
        os.set_blocking(wake_w, False)  # a save never waits for a child: one byte is enough
        asking, asked = tree_metrics.channel()
        passed = (ready_w, wake_r, asked.fileno())
        fds = ["--ready-fd", str(ready_w), "--wake-fd", str(wake_r)]
        try:
            child.process = subprocess.Popen(
                [*self._command(child.roles), *fds, "--metrics-fd", str(asked.fileno())],
                env=env,
                pass_fds=passed,
            )
        finally:
            os.close(ready_w)
            os.close(wake_r)
            asked.close()
        with self._wake_lock:
            if child.wake is not None:
                os.close(child.wake)
            child.wake = wake_w
        if child.asking is not None:
            child.asking.close()
        child.asking = asking
        child.ready = False
        log.info("embedded.child_started", role=role_label(child.roles), pid=child.process.pid)
        ready = self._listen(ready_r)

        def said(answer: asyncio.Future[bool]) -> None:
            child.ready = not answer.cancelled() and answer.result()

        ready.add_done_callback(said)
        return ready

    def _listen(self, said: int) -> asyncio.Future[bool]:
        """A child's first byte says it is ready, each next one that it published; the end
        of the pipe, that it ended."""
        loop = asyncio.get_running_loop()
        ready: asyncio.Future[bool] = loop.create_future()
        os.set_blocking(said, False)
        self._listening.add(said)

        def readable() -> None:
            try:
                heard = os.read(said, 4096)
            except BlockingIOError:
                return
            if not heard:
                self._close(said)
            elif self._published is not None:
                waking = loop.create_task(self._published())
                self._wakings.add(waking)
                waking.add_done_callback(self._wakings.discard)
            if not ready.done():
                ready.set_result(bool(heard))

        loop.add_reader(said, readable)
        return ready

    def _close(self, said: int) -> None:
        if said in self._listening:
            self._listening.discard(said)
            asyncio.get_running_loop().remove_reader(said)
            os.close(said)

    def saved(self) -> None:
        """The core saved (on the saving thread): the children look at the store at once
        rather than at their next poll."""
        with self._wake_lock:
            for child in self.children:
                if child.wake is not None:
                    with contextlib.suppress(BlockingIOError, BrokenPipeError):
                        os.write(child.wake, b"!")

    async def start(self, within: float = START_WITHIN) -> None:
        """Starts every child and waits until each plays its roles."""
        self._stopping.clear()
        answers = [self._spawn(child) for child in self.children]
        try:
            said = await asyncio.wait_for(asyncio.gather(*answers), within)
        except TimeoutError:
            said = []
        if len(said) != len(answers) or not all(said):
            await self.stop(grace=2.0)
            raise CannotStart(
                f"a child process ended before it was ready, or took over {within:.0f} s "
                "(its log lines say why)",
                setting="CHAINON_EMBEDDED_PROCESSES",
            )
        self._watch = asyncio.create_task(self._supervise(), name="process-tree")

    async def _supervise(self) -> None:
        while not self._stopping.is_set():
            for child in self.children:
                code = child.process.poll() if child.process else None
                if code is None or self._stopping.is_set():
                    continue
                label = role_label(child.roles)
                if not child.policy.may_restart(time.monotonic()):
                    log.error("embedded.child_keeps_dying", role=label, exit_code=code)
                    self.gave_up = True
                    self._give_up()
                    return
                log.warning("embedded.child_restarted", role=label, exit_code=code)
                RESTARTS.labels(role=label).inc()
                self._spawn(child)  # nobody waits for it to be ready
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), 0.2)

    def closing(self) -> None:
        """The command is stopping: a child that ends now (a Ctrl-C or a SIGTERM sent to
        the whole group reaches it too) is not started again."""
        self._stopping.set()

    async def stop(self, grace: float = STOP_GRACE) -> None:
        """SIGTERM to every child (each finishes its batch), SIGKILL after ``grace``."""
        self._stopping.set()
        if self._watch is not None:
            await self._watch
        running = [c.process for c in self.children if c.process and c.process.poll() is None]
        for process in running:
            process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            if all(p.poll() is not None for p in running):
                break
            await asyncio.sleep(0.05)
        for process in running:
            if process.poll() is None:
                log.error("embedded.child_killed", pid=process.pid, grace=grace)
                process.kill()
                process.wait()
        with self._wake_lock:
            for child in self.children:
                if child.wake is not None:
                    os.close(child.wake)
                    child.wake = None
        for said in list(self._listening):
            self._close(said)
        for child in self.children:
            if child.asking is not None:
                child.asking.close()
                child.asking = None
        log.info("embedded.children_stopped", count=len(running))

    async def metrics(self, within: float = tree_metrics.ASK_WITHIN) -> bytes:
        """This process's metrics and each live child's, in one exposition; a child that
        does not answer within ``within`` seconds is left out of it, and counted."""
        answers = await asyncio.gather(
            *(self._metrics_of(child, within) for child in self.children)
        )
        heard = {
            process_label(child.roles): found
            for child, found in zip(self.children, answers, strict=True)
            if found is not None
        }
        own = tree_metrics.families(generate_latest(REGISTRY).decode())
        return tree_metrics.merge(own, heard)

    async def _metrics_of(self, child: Child, within: float) -> list[Metric] | None:
        try:
            alive = child.process is not None and child.process.poll() is None
            if child.asking is None or not alive or not child.ready:
                raise tree_metrics.Missed("starting")
            return await tree_metrics.ask(child.asking, within)
        except tree_metrics.Missed as missed:
            label = role_label(child.roles)
            log.warning("embedded.child_metrics_missed", role=label, reason=missed.reason)
            tree_metrics.MISSED.labels(role=label, reason=missed.reason).inc()
            return None
