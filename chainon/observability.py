"""Logs and metrics: JSON logs with a request id, and Prometheus counters.

The request id is bound in structlog's context variables, and carried in commands and
events (``request_id``), so one id follows a message from the API through the core to
the dispatch worker's log lines.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable
from typing import TextIO, cast

import structlog
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from chainon.log_redaction import redact_personal_data

REGISTRY = CollectorRegistry(auto_describe=True)

HTTP_REQUESTS = Counter(
    "chainon_http_requests_total",
    "HTTP requests answered, by route and status.",
    ["method", "route", "status"],
    registry=REGISTRY,
)
HTTP_LATENCY = Histogram(
    "chainon_http_request_duration_seconds",
    "Time to answer an HTTP request.",
    ["method", "route"],
    registry=REGISTRY,
)
MESSAGES = Counter(
    "chainon_messages_total",
    "Messages by channel, direction and status reached.",
    ["channel", "direction", "status"],
    registry=REGISTRY,
)
BUS_RECORDS = Counter(
    "chainon_bus_records_total",
    "Bus records handled, by worker and topic.",
    ["worker", "topic"],
    registry=REGISTRY,
)
BUS_DLQ = Counter(
    "chainon_bus_dead_letters_total",
    "Records sent to a dead-letter topic, by the topic they came from.",
    ["topic"],
    registry=REGISTRY,
)
BUS_LAG = Gauge(
    "chainon_bus_consumer_lag",
    "Records not yet committed, by worker, topic and partition.",
    ["worker", "topic", "partition"],
    registry=REGISTRY,
)
RELAY_LAG = Gauge(
    "chainon_relay_lag",
    "Events in the store not yet published by the relay.",
    registry=REGISTRY,
)
RELAY_PUBLISHED = Counter(
    "chainon_relay_events_total",
    "Events the relay published.",
    registry=REGISTRY,
)

WEBHOOK_ATTEMPTS = Counter(
    "chainon_webhook_attempts_total",
    "Webhook delivery attempts, by endpoint.",
    ["endpoint"],
    registry=REGISTRY,
)
WEBHOOK_FAILURES = Counter(
    "chainon_webhook_failures_total",
    "Webhook delivery attempts that failed (non-2xx, timeout, refused), by endpoint.",
    ["endpoint"],
    registry=REGISTRY,
)
WEBHOOK_OLDEST = Gauge(
    "chainon_webhook_oldest_undelivered_seconds",
    "Age of the oldest event an endpoint is still owed.",
    ["endpoint"],
    registry=REGISTRY,
)


class _CurrentStderr:
    """Whatever ``sys.stderr`` is when a line is written, not when logging was configured
    (a test runner or a CLI may swap it, and close the one it lent)."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


# A library's condition (a broker down: "Unable connect to …") is logged once per this
# many seconds; its next line counts the ones held back.
LIBRARY_LOG_INTERVAL = 10.0


class Repeats(logging.Filter):
    """One line per condition per interval, the next one with the count held back.

    A condition is a logger, a level and the message's template (its arguments differ:
    the node, the attempt); a broker outage made the Kafka client write 145,000 lines in
    25 seconds. The count is ``suppressed`` on the line that follows the interval.
    """

    MAX_CONDITIONS = 1000  # templates are few; this only bounds formatted-in-place ones

    def __init__(self, interval: float, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self.interval = interval
        self.clock = clock
        self._last: dict[tuple[str, int, str], float] = {}
        self._held: dict[tuple[str, int, str], int] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        key = (record.name, record.levelno, str(record.msg))
        now = self.clock()
        last = self._last.get(key)
        if last is not None and now - last < self.interval:
            self._held[key] = self._held.get(key, 0) + 1
            return False
        if len(self._last) >= self.MAX_CONDITIONS and key not in self._last:
            self._last.clear()
            self._held.clear()
        self._last[key] = now
        held = self._held.pop(key, 0)
        if held:
            record.suppressed = held
        return True


def _suppressed(_: object, __: str, event: structlog.types.EventDict) -> structlog.types.EventDict:
    record = event.get("_record")
    held = getattr(record, "suppressed", 0)
    if held:
        event["suppressed"] = held
    return event


def configure_logging(
    level: str = "INFO",
    *,
    json: bool = True,
    repeat_interval: float = LIBRARY_LOG_INTERVAL,
    personal_data: bool = False,
) -> None:
    """structlog for Chainon's own lines; the libraries' (``logging``: the Kafka client,
    uvicorn, psycopg) rendered the same way on the same stream, rate-limited; personal data
    masked on both unless ``personal_data`` (see ``chainon.log_redaction``)."""
    redact: list[structlog.types.Processor] = [] if personal_data else [redact_personal_data]
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer()
    )
    numeric = logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            *redact,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(file=cast(TextIO, _CurrentStderr())),
        cache_logger_on_first_use=False,
    )
    handler = logging.StreamHandler(cast(TextIO, _CurrentStderr()))
    handler.set_name(_HANDLER)
    handler.addFilter(Repeats(repeat_interval))
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[
                structlog.contextvars.merge_contextvars,
                structlog.stdlib.add_logger_name,
                structlog.processors.add_log_level,
                structlog.processors.TimeStamper(fmt="iso", utc=True),
                _suppressed,
                structlog.processors.format_exc_info,
            ],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                *redact,
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    for previous in [h for h in root.handlers if h.get_name() == _HANDLER]:
        root.removeHandler(previous)
    root.addHandler(handler)
    root.setLevel(numeric)


_HANDLER = "chainon"
