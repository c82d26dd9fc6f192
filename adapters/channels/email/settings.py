"""The email channel's settings: the relay we send through, the reply domain we own."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from chainon.adapters.channels.email.ids import ReplyDomain

# The subject of a conversation's first email (later ones answer "Re:" to the thread's).
DEFAULT_SUBJECT = "{brand}: {first_line}"
SUBJECT_PLACEHOLDERS = {"brand": "", "first_line": ""}


def check_subject(template: str) -> str:
    """A subject template that formats (fails at start, not at the first send)."""
    try:
        template.format(**SUBJECT_PLACEHOLDERS)
    except (KeyError, IndexError, ValueError):
        raise ValueError("may use no placeholder but {brand} and {first_line}") from None
    return template


class EmailSettings(BaseModel):
    """One deployment's email channel; the lead's settings module fills it from the env."""

    model_config = ConfigDict(frozen=True)
    relay_host: str = "127.0.0.1"
    relay_port: int = Field(default=587, ge=1, le=65535)
    starttls: bool = True
    username: str | None = None
    password: SecretStr | None = None
    timeout: float = Field(default=30.0, gt=0)
    reply_domain: str = Field(pattern=r"^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$")
    reply_secret: SecretStr
    previous_reply_secrets: tuple[SecretStr, ...] = ()
    bounce_address: str = ""  # empty: bounces@{reply_domain}
    subject: str = DEFAULT_SUBJECT
    inbound_host: str = "127.0.0.1"
    inbound_port: int = Field(default=2525, ge=0, le=65535)  # 0: any free port
    data_size_limit: int = Field(default=10 * 1024 * 1024, ge=1024)
    languages: tuple[str, ...] = ("en", "fr")  # of the "On … wrote:" lines to recognise

    @field_validator("reply_secret")
    @classmethod
    def _long_enough(cls, value: SecretStr) -> SecretStr:
        if len(value.get_secret_value()) < 16:
            raise ValueError("must be at least 16 characters: it signs the reply addresses")
        return value

    @field_validator("subject")
    @classmethod
    def _placeholders(cls, value: str) -> str:
        return check_subject(value)

    def reply_domain_ids(self) -> ReplyDomain:
        return ReplyDomain(
            self.reply_domain,
            self.reply_secret.get_secret_value(),
            [secret.get_secret_value() for secret in self.previous_reply_secrets],
            bounce=self.bounce_address,
        )
