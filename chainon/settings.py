"""All of Chainon's configuration, read from ``CHAINON_``-prefixed environment variables."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class StoreKind(StrEnum):
    SQLITE = "sqlite"
    POSTGRES = "postgres"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CHAINON_", env_file=".env", extra="ignore")

    store: StoreKind = StoreKind.SQLITE
    data_dir: Path = Path("var")
    postgres_dsn: str = "postgresql://chainon@127.0.0.1:5432/chainon"
    postgres_schema: str = ""  # empty: the server's default (public)
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    log_level: str = "INFO"
    log_json: bool = True
    default_region: str = "FR"  # how national phone numbers are read
    max_request_bytes: int = Field(default=256 * 1024, ge=1024)
    sandbox_receipt_delay: float = Field(default=1.0, ge=0)  # seconds
    sandbox_outcome: str = Field(default="deliver", pattern="^(deliver|fail|silent)$")
    dispatch_poll_interval: float = Field(default=0.2, gt=0)
    demo_brand: bool = True  # `chainon serve` creates the demo brand when missing

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
