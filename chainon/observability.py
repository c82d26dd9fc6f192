"""Logs and metrics: JSON logs with a request id, and Prometheus counters.

The request id is bound in structlog's context variables, and carried in commands and
events (``request_id``), so one id follows a message from the API through the core to
the dispatch worker's log lines.
"""

from __future__ import annotations

import logging
import sys
from typing import TextIO, cast

import structlog
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

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


class _CurrentStderr:
    """Whatever ``sys.stderr`` is when a line is written, not when logging was configured
    (a test runner or a CLI may swap it, and close the one it lent)."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


def configure_logging(level: str = "INFO", *, json: bool = True) -> None:
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer()
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
        ),
        logger_factory=structlog.PrintLoggerFactory(file=cast(TextIO, _CurrentStderr())),
        cache_logger_on_first_use=False,
    )
