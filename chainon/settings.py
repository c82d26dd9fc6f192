"""All of Chainon's configuration, read from ``CHAINON_``-prefixed environment variables."""

from __future__ import annotations

import difflib
import json
import os
from collections.abc import Iterable, Mapping
from enum import StrEnum
from pathlib import Path
from urllib.parse import urlsplit

from dotenv import dotenv_values
from pydantic import BaseModel, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict
from structlog import get_logger

from chainon.adapters.channels.email.settings import DEFAULT_SUBJECT, EmailSettings, check_subject
from chainon.adapters.channels.rcs.client import API as RBM_API
from chainon.adapters.channels.rcs.client import RbmSettings
from chainon.settings_files import SUFFIX, FileVariables

_log = get_logger(__name__)


class StoreKind(StrEnum):
    SQLITE = "sqlite"
    POSTGRES = "postgres"


class SmppLinkSettings(BaseModel):
    """One bind to an aggregator's SMSC; brands route sender numbers to ``smpp:<name>``."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")
    host: str
    port: int = Field(default=2775, ge=1, le=65535)
    system_id: str = Field(max_length=16)
    password: SecretStr
    system_type: str = ""
    window: int = Field(default=10, ge=1, le=1000)
    tps: float = Field(default=0, ge=0)
    sender_tps: float = Field(default=0, ge=0)
    # Seconds the SMSC keeps trying (sent as submit_sm's validity_period); its messages
    # expire in Chainon when no receipt came by then. None: the SMSC's own default, and
    # CHAINON_RECEIPT_DEADLINE_SECONDS.
    validity_period: int | None = Field(default=None, ge=60, le=30 * 24 * 3600)


LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


class BusKind(StrEnum):
    EMBEDDED = "embedded"
    KAFKA = "kafka"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CHAINON_", env_file=".env", extra="ignore")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # CHAINON_<NAME>_FILE after the variables themselves (both set at once is refused).
        return (
            init_settings,
            env_settings,
            FileVariables(settings_cls),
            dotenv_settings,
            file_secret_settings,
        )

    store: StoreKind = StoreKind.SQLITE
    data_dir: Path = Path("var")
    postgres_dsn: str = "postgresql://chainon@127.0.0.1:5432/chainon"
    postgres_schema: str = ""  # empty: the server's default (public)
    bus: BusKind = BusKind.EMBEDDED
    kafka_bootstrap: str = "127.0.0.1:9092"
    kafka_partitions: int = Field(default=4, ge=1, le=1000)
    kafka_replication: int = Field(default=1, ge=1, le=10)
    topic_prefix: str = Field(default="chainon", pattern=r"^[A-Za-z0-9._-]{1,100}$")
    worker_port: int = Field(default=0, ge=0, le=65535)  # health and metrics of a worker; 0: off
    # Embedded mode: processes `chainon serve` runs. 1: all in one (tiny machines); 2: the
    # API and the core in one, the views, relay, dispatch and webhooks in a child; 3: the views
    # and the webhooks (both read every event) in a child of their own, the relay and the
    # dispatch in the other. The core stays the store's only writer in the parent.
    embedded_processes: int = Field(default=2, ge=1, le=3)
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    log_level: str = "INFO"
    log_json: bool = True
    # Phone numbers, addresses and message texts in the logs: masked unless switched on.
    log_personal_data: bool = False
    default_region: str = "FR"  # how national phone numbers are read
    max_request_bytes: int = Field(default=256 * 1024, ge=1024)
    max_upload_bytes: int = Field(default=64 * 1024 * 1024, ge=1024)  # a campaign's CSV
    sandbox_receipt_delay: float = Field(default=1.0, ge=0)  # seconds
    sandbox_outcome: str = Field(default="deliver", pattern="^(deliver|fail|silent)$")
    relay_poll_interval: float = Field(default=0.1, gt=0)
    # Seconds a stage that follows a log, woken from idle (the core by the embedded log;
    # the relay, views and webhooks by a save), waits before it reads, so that what
    # arrives meanwhile is handled in the same batch: Kafka's producer ``linger.ms``, for
    # the followers. Off by default: a write is then readable soonest after the API's
    # answer (a console that reloads at once sees it); a busy deployment may trade a few
    # milliseconds for fewer, larger batches.
    batch_linger: float = Field(default=0.0, ge=0, le=1)
    # How often the views process looks for deadlines that fell due (RCS fallbacks,
    # receipts; seconds).
    deadline_poll_interval: float = Field(default=0.5, gt=0)
    # Webhooks to loopback, link-local and private addresses (and plain http): development.
    webhooks_allow_private: bool = False
    # The retry schedule and window multiplied by this (tests and demos shorten them).
    webhooks_retry_scale: float = Field(default=1.0, gt=0, le=1.0)
    webhooks_poll_interval: float = Field(default=0.5, gt=0)
    # Days a delivered (or given-up) webhook and its attempts stay in the outbox, for
    # GET …/attempts (Stripe lists events for 30 days; Svix keeps payloads 30 days on its
    # free plan, 90 on paid ones); a replay reads the event log, not these rows.
    webhooks_retention_days: int = Field(default=30, ge=1, le=365)
    # The Fernet key that seals webhook endpoints' secrets in the store; empty: the key in
    # DATA_DIR/secrets-key, made at the first start. Distributed: the same on every process.
    secrets_key: SecretStr = SecretStr("")
    # How long a sent SMS or RCS message waits for its delivery receipt before it becomes
    # expired (seconds; an SMPP link's validity_period wins for its messages). Email has
    # no receipts: sent is final.
    receipt_deadline_seconds: int = Field(default=48 * 3600, ge=60)
    # Aggregates kept in memory per process (conversations, contacts, their index
    # entries); 0 turns the cache off. Each is a few kilobytes: 20,000 held the 50,000-
    # message burst over 5,000 conversations in under 200 MB (5,000: a third slower).
    aggregate_cache: int = Field(default=20000, ge=0)
    # How long an accepted API key is remembered in-process (seconds; 0: never). A key
    # revoked through this process is refused at once; through another, within this.
    api_key_cache_seconds: float = Field(default=5.0, ge=0)
    # Rate limits per API key and route family (chainon/rate_limits.py): requests a second
    # and how many at once; a rate of 0 lifts the family's limit. With a PostgreSQL store
    # the buckets are in a table of it, shared by every API process.
    rate_limit_messages: float = Field(default=100, ge=0)
    rate_limit_messages_burst: int = Field(default=200, ge=1)
    rate_limit_reads: float = Field(default=200, ge=0)
    rate_limit_reads_burst: int = Field(default=400, ge=1)
    rate_limit_writes: float = Field(default=50, ge=0)
    rate_limit_writes_burst: int = Field(default=100, ge=1)
    rate_limit_admin: float = Field(default=5, ge=0)
    rate_limit_admin_burst: int = Field(default=20, ge=1)
    rate_limit_webhooks: float = Field(default=10, ge=0)
    rate_limit_webhooks_burst: int = Field(default=20, ge=1)
    demo_brand: bool = True  # `chainon serve` creates the demo brand when missing
    # Signs the agent console's session cookies. Empty: a random one is made once and kept
    # in <data_dir>/console.secret (set it when several API processes serve the console).
    console_secret: SecretStr = SecretStr("")
    # How long a console sign-in lasts (seconds).
    console_session_seconds: int = Field(default=12 * 3600, ge=60, le=30 * 24 * 3600)
    # Email (off while email_reply_domain is empty): the relay we send through, and the
    # SMTP server we receive on for the brands' addresses and our reply domain.
    email_relay_host: str = "127.0.0.1"
    email_relay_port: int = Field(default=587, ge=1, le=65535)
    email_relay_starttls: bool = True
    email_relay_username: str | None = None
    email_relay_password: SecretStr | None = None
    email_reply_domain: str = ""
    email_reply_secret: SecretStr = SecretStr("")
    email_inbound_host: str = "127.0.0.1"
    email_inbound_port: int = Field(default=2525, ge=0, le=65535)
    email_inbound_max_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    # The subject of a conversation's first email; {brand} is the brand's name, {first_line}
    # the message's first line. Later emails answer "Re:" to the thread's subject.
    email_subject: str = DEFAULT_SUBJECT
    # Where this deployment's API is reached from the internet (https://chainon.example.com):
    # the unsubscribe link of a marketing email points there. Empty: no link can be made,
    # and marketing emails are refused rather than sent without one.
    public_url: str = ""
    # Signs the unsubscribe links (at least 16 characters). Empty in embedded mode: one is
    # generated into DATA_DIR/unsubscribe.key (mode 0600); with Kafka it must be set.
    unsubscribe_secret: SecretStr = SecretStr("")
    # SMPP links, as JSON: [{"name": "main", "host": "smsc.example", "port": 2775,
    # "system_id": "…", "password": "…", "tps": 10, "sender_tps": 1, "window": 10}]
    smpp_links: list[SmppLinkSettings] = Field(default_factory=list)
    # RCS over Google's RBM (off while no credentials file is set: RCS then goes to the
    # sandbox). The service account's key file, as the RBM console gives it; its token_uri
    # is where tokens are fetched.
    rbm_credentials_file: Path | None = None
    rbm_api_url: str = RBM_API
    # The webhook's client token (X-Goog-Signature is checked with it); empty: every
    # notification is refused.
    rbm_client_token: SecretStr = SecretStr("")
    # The agent for calls that name none (batch capability checks) and for a notification
    # without agentId; a send goes from the agent that is the brand's RCS sender address.
    rbm_agent_id: str = ""

    @field_validator("email_subject")
    @classmethod
    def _subject_placeholders(cls, value: str) -> str:
        return check_subject(value)

    @field_validator("public_url")
    @classmethod
    def _public_url_shape(cls, value: str) -> str:
        url = urlsplit(value)
        if value and (url.scheme not in {"https", "http"} or not url.hostname or url.query):
            raise ValueError("must look like https://chainon.example.com (no query)")
        return value.rstrip("/")

    @field_validator("unsubscribe_secret")
    @classmethod
    def _secret_long_enough(cls, value: SecretStr) -> SecretStr:
        if value.get_secret_value() and len(value.get_secret_value()) < 16:
            raise ValueError("must be at least 16 characters: it signs the unsubscribe links")
        return value

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        if value.upper() not in LOG_LEVELS:
            raise ValueError(f"must be one of {', '.join(LOG_LEVELS)}")
        return value.upper()

    @field_validator("postgres_dsn")
    @classmethod
    def _dsn_shape(cls, value: str) -> str:
        dsn = urlsplit(value)
        if dsn.scheme not in {"postgresql", "postgres"} or not dsn.hostname:
            raise ValueError("must look like postgresql://user@host:port/database")
        return value

    @property
    def sqlite_path(self) -> Path:
        return self.data_dir / "chainon.sqlite3"

    def email(self) -> EmailSettings | None:
        if not self.email_reply_domain:
            return None
        return EmailSettings(
            relay_host=self.email_relay_host,
            relay_port=self.email_relay_port,
            starttls=self.email_relay_starttls,
            username=self.email_relay_username,
            password=self.email_relay_password,
            reply_domain=self.email_reply_domain,
            reply_secret=self.email_reply_secret,
            inbound_host=self.email_inbound_host,
            inbound_port=self.email_inbound_port,
            data_size_limit=self.email_inbound_max_bytes,
            subject=self.email_subject,
        )

    def rbm(self) -> RbmSettings | None:
        """The RBM client's settings, with the key file read; None while RBM is off."""
        if self.rbm_credentials_file is None:
            return None
        path = self.rbm_credentials_file
        try:
            key = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ValueError(f"CHAINON_RBM_CREDENTIALS_FILE: cannot read {path}: {exc}") from exc
        if not isinstance(key, dict) or key.get("type") != "service_account":
            raise ValueError(f"CHAINON_RBM_CREDENTIALS_FILE: {path} is not a service-account key")
        return RbmSettings(
            agent_id=self.rbm_agent_id,
            service_account=key,
            client_token=self.rbm_client_token.get_secret_value(),
            api_base_url=self.rbm_api_url,
        )

    @property
    def views_path(self) -> Path:
        return self.data_dir / "views.sqlite3"

    @property
    def webhooks_path(self) -> Path:
        return self.data_dir / "webhooks.sqlite3"

    @property
    def bus_path(self) -> Path:
        return self.data_dir / "bus.sqlite3"


PREFIX = "CHAINON_"
# CHAINON_ variables that are no setting on purpose: read by the test and benchmark suites,
# and by the scripts that start a development PostgreSQL or Kafka (infra/).
READ_ELSEWHERE_PREFIXES = ("CHAINON_TEST_", "CHAINON_BENCH_")
READ_ELSEWHERE = frozenset(
    {
        "CHAINON_PYTHON",
        "CHAINON_PG_BINDIR",
        "CHAINON_PG_USER",
        "CHAINON_PG_START_TIMEOUT",
        "CHAINON_KAFKA_CDS",
        "CHAINON_KAFKA_HEAP_OPTS",
        "CHAINON_KAFKA_START_TIMEOUT",
    }
)
# Names that earlier versions read, so that a deployment set up with them is told why
# its value no longer counts.
RENAMED = {
    "CHAINON_EMAIL_STARTTLS": "CHAINON_EMAIL_RELAY_STARTTLS",
    "CHAINON_EMAIL_USERNAME": "CHAINON_EMAIL_RELAY_USERNAME",
    "CHAINON_EMAIL_PASSWORD": "CHAINON_EMAIL_RELAY_PASSWORD",
    "CHAINON_EMAIL_MAX_BYTES": "CHAINON_EMAIL_INBOUND_MAX_BYTES",
}


def setting_names() -> frozenset[str]:
    """Every variable ``Settings`` reads."""
    return frozenset(PREFIX + name.upper() for name in Settings.model_fields)


def unknown_variables(names: Iterable[str]) -> list[str]:
    """A warning for each ``CHAINON_`` name that no setting reads: a typo would otherwise
    leave its default in place without a word."""
    known = setting_names()
    warnings = []
    for name in sorted({name.upper() for name in names}):
        if not name.startswith(PREFIX) or name in known or name in READ_ELSEWHERE:
            continue
        if name.endswith(SUFFIX) and name.removesuffix(SUFFIX) in known:
            continue  # CHAINON_<NAME>_FILE: the setting read from a file
        if name.startswith(READ_ELSEWHERE_PREFIXES):
            continue
        if name in RENAMED:
            hint = f"it was renamed {RENAMED[name]}"
        else:
            close = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.8)
            hint = f"did you mean {close[0]}?" if close else "no setting has this name"
        warnings.append(f"{name} is ignored: {hint}")
    return warnings


def warn_unknown_variables(
    environ: Mapping[str, str] | None = None, env_file: Path = Path(".env")
) -> list[str]:
    """Logs (once per process start) the variables of the environment and of ``.env``
    that no setting reads; returns the warnings."""
    names = set(os.environ if environ is None else environ)
    if env_file.is_file():
        names |= {key for key in dotenv_values(env_file) if key}
    warnings = unknown_variables(names)
    for warning in warnings:
        _log.warning("settings.unknown_variable", detail=warning)
    return warnings
