"""The whole process tree's metrics on the parent's ``/metrics`` (``chainon serve``).

Each child of the tree keeps its own Prometheus registry (the relay, the views, the
dispatch count there); at each scrape the parent asks every live child for its text, all
at once and for at most ``ASK_WITHIN`` seconds, and merges it with its own: one HELP and
TYPE per family, the parent's samples as they are, each child's with a ``process`` label
(``child:dispatch+relay+views+webhooks``) so that no two samples are the same series. A child that
does not answer in time, or answers what does not parse, is left out of that scrape
(``chainon_embedded_child_metrics_missed_total``, a log line); the scrape never fails.

How the parent asks: a socket pair per child, made by the parent and its other end
passed to the child as the wake pipe is (nothing in the file system: no one else can
ask). For each scrape the parent makes a fresh stream pair and hands one end to the child
over it; the child writes its text on that end, then ``# EOF``, and closes it. An answer
too late goes to a closed socket, never into the next scrape; one cut short (the child
died while writing) lacks the ``# EOF`` and is left out.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass

import structlog
from prometheus_client import Counter, generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import Collector, CollectorRegistry

from chainon.observability import REGISTRY

log = structlog.get_logger(__name__)
ASK_WITHIN = 1.0  # seconds a child has to answer a scrape
ANSWER_WITHIN = 10.0  # seconds a child keeps trying to write an answer nobody reads
PROCESS = "process"  # the label that tells a child's samples from the parent's
EOF = b"# EOF\n"  # a comment to the parser: the answer is whole

MISSED = Counter(
    "chainon_embedded_child_metrics_missed_total",
    "Scrapes of `chainon serve`'s /metrics that went without a child's metrics, by roles "
    "and reason (starting, unreachable, timeout, cut, malformed).",
    ["role", "reason"],
    registry=REGISTRY,
)


class Missed(Exception):
    """A child's metrics are not in this scrape; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def channel() -> tuple[socket.socket, socket.socket]:
    """The parent's end (it asks on it) and the child's (passed to the child)."""
    parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    parent.setblocking(False)  # a child that reads no more never holds a scrape
    child.set_inheritable(True)
    return parent, child


def families(text: str) -> list[Metric]:
    try:
        return list(text_string_to_metric_families(text))
    except (ValueError, IndexError, KeyError) as exc:
        raise Missed("malformed") from exc


async def ask(asking: socket.socket, within: float = ASK_WITHIN) -> list[Metric]:
    """The metrics of the child at the other end of ``asking``; raises ``Missed``."""
    loop = asyncio.get_running_loop()
    mine, theirs = socket.socketpair()
    with mine:
        mine.setblocking(False)
        try:
            socket.send_fds(asking, [b"?"], [theirs.fileno()])
        except OSError as exc:  # its queue is full (it reads no more), or it is gone
            raise Missed("unreachable") from exc
        finally:
            theirs.close()
        chunks = []
        try:
            async with asyncio.timeout(within):
                while chunk := await loop.sock_recv(mine, 1 << 16):
                    chunks.append(chunk)
        except TimeoutError:
            raise Missed("timeout") from None
    answer = b"".join(chunks)
    if not answer.endswith(EOF):
        raise Missed("cut")
    return families(answer[: -len(EOF)].decode())


def answer(
    fd: int, loop: asyncio.AbstractEventLoop, registry: CollectorRegistry = REGISTRY
) -> Callable[[], None]:
    """The child's side: answers each request that comes on ``fd`` with ``registry``'s
    text; returns what stops it."""
    asked = socket.socket(fileno=fd)
    asked.setblocking(False)
    replies: set[asyncio.Task[None]] = set()

    def readable() -> None:
        try:
            message, fds, _, _ = socket.recv_fds(asked, 16, 1)
        except BlockingIOError:
            return
        except OSError:
            message, fds = b"", []
        if not message:  # the parent closed its end (it is stopping), or it is gone
            loop.remove_reader(asked.fileno())
            return
        for reply_fd in fds:
            reply = loop.create_task(_reply(socket.socket(fileno=reply_fd), registry))
            replies.add(reply)
            reply.add_done_callback(replies.discard)

    def stop() -> None:
        loop.remove_reader(asked.fileno())
        asked.close()

    loop.add_reader(asked.fileno(), readable)
    return stop


async def _reply(to: socket.socket, registry: CollectorRegistry) -> None:
    loop = asyncio.get_running_loop()
    with to, contextlib.suppress(OSError, TimeoutError):  # the parent gave up on it
        to.setblocking(False)
        text = generate_latest(registry) + EOF
        await asyncio.wait_for(loop.sock_sendall(to, text), ANSWER_WITHIN)


@dataclass(frozen=True)
class _Families(Collector):
    """Parsed families, for ``generate_latest`` to write them as it writes a registry."""

    found: Sequence[Metric]

    def collect(self) -> Iterator[Metric]:
        yield from self.found


def merge(own: Sequence[Metric], children: Mapping[str, Sequence[Metric]]) -> bytes:
    """One exposition: ``own`` (the parent's) as it is, then each child's samples under
    the family of the same name with ``process`` set to the child's key. A child's family
    whose type differs from the parent's, or a sample already there, is left out (the text
    format allows one TYPE per name and one sample per series)."""
    merged: dict[str, Metric] = {}
    seen: set[tuple[str, tuple[tuple[str, str], ...]]] = set()

    def add(family: Metric, labels: Mapping[str, str]) -> None:
        name = _written(family)
        into = merged.get(name)
        if into is None:
            into = merged[name] = Metric(family.name, family.documentation, family.type)
        elif into.type != family.type or into.name != family.name:
            log.warning("embedded.child_metric_type_differs", metric=family.name, **labels)
            return
        for sample in family.samples:
            named = {**sample.labels, **labels}
            key = (sample.name, tuple(sorted(named.items())))
            if key not in seen:
                seen.add(key)
                into.samples.append(sample._replace(labels=named))

    for family in own:
        add(family, {})
    for process, found in children.items():
        for family in found:
            add(family, {PROCESS: process})
    return generate_latest(_Families(list(merged.values())))


def _written(family: Metric) -> str:
    """The name on the family's TYPE line: a counter ``x`` is written ``x_total``, as a
    gauge ``x_total`` would be."""
    return f"{family.name}_total" if family.type == "counter" else family.name
