"""A brand's consent settings: keywords, texts, quiet hours, the reach of an opt-out
(``domain.consent_settings``), read and set as one document."""

from __future__ import annotations

from datetime import datetime, time
from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field

from chainon.api.answers import accepted
from chainon.api.consent import api_key_id
from chainon.api.deps import BrandDep, RuntimeDep
from chainon.api.schemas import Accepted
from chainon.domain import commands as cmd
from chainon.domain.brand import Brand
from chainon.domain.consent_settings import DAYS, ConsentSettings
from chainon.domain.keywords import KeywordAction

router = APIRouter(prefix="/v1/consent", tags=["consent"])
LANGUAGES = ("en", "fr")
KINDS = ("opt_out", "opt_out_all", "opt_in", "help")


class OverrideOut(BaseModel):
    reason: str
    by: str = Field(description="Who asked for it: the API key's id, or `cli:<user>`.")
    at: datetime


class WindowOut(BaseModel):
    opens: time
    closes: time
    days: list[str]
    public_holidays: bool
    version: str
    source: str
    override: OverrideOut | None = Field(
        None, description="Set when the brand's window is wider than the country's."
    )


class SettingsChangeOut(BaseModel):
    at: datetime
    by: str
    settings: dict[str, Any]


class SettingsOut(BaseModel):
    settings: ConsentSettings = Field(description="The document as set (what `PUT` takes).")
    keywords: dict[str, dict[str, list[str]]] = Field(
        description="In force, defaults included: language → action → normalised words."
    )
    texts: dict[str, dict[str, str]] = Field(description="In force: language → kind → text.")
    quiet_hours: dict[str, WindowOut] = Field(
        description="The brand's own windows (countries it left out keep their policy)."
    )
    history: list[SettingsChangeOut] = Field(description="Every change, oldest first.")


def settings_out(brand: Brand) -> SettingsOut:
    rules = brand.consent_rules
    windows = {}
    for country, policy in rules.quiet_hours.items():
        kept = brand.quiet_hours_overrides.get(country)
        windows[country] = WindowOut(
            opens=policy.opens,
            closes=policy.closes,
            days=[DAYS[d] for d in sorted(policy.days)],
            public_holidays=policy.public_holidays,
            version=policy.version,
            source=policy.source,
            override=OverrideOut(reason=kept.reason, by=kept.by, at=kept.at) if kept else None,
        )
    return SettingsOut(
        settings=brand.current_consent_settings(),
        keywords={
            language: {
                action.value: sorted(words.words.get(action, frozenset()))
                for action in KeywordAction
            }
            for language, words in sorted(rules.book.lists.items())
        },
        texts={
            language: {
                kind: rules.reply(kind, language, brand.name, brand.help_text) for kind in KINDS
            }
            for language in LANGUAGES
        },
        quiet_hours=windows,
        history=[
            SettingsChangeOut(at=c.at, by=c.by, settings=c.settings) for c in brand.consent_history
        ],
    )


@router.get("/settings", response_model=SettingsOut)
async def get_consent_settings(brand: BrandDep, runtime: RuntimeDep) -> SettingsOut:
    """The brand's consent settings as set, what is in force with the defaults, and every
    change with who made it (a quiet-hours override's evidence)."""
    fresh = await runtime.call(runtime.core.get, Brand, brand.id)
    return settings_out(fresh)


@router.put("/settings", response_model=Accepted)
async def put_consent_settings(
    body: ConsentSettings,
    brand: BrandDep,
    runtime: RuntimeDep,
    request: Request,
    response: Response,
) -> Accepted:
    """Sets the whole document (what it leaves out takes the default: `{"append_opt_out_mention":
    true}` alone, this route's first shape, still works). `changed: false` when it is the one
    in force. Refused (422, naming the field) past the rules' limits: removing a required
    opt-out keyword, a link in a confirmation, a quiet-hours window wider than the country's
    without an `override` and its `reason`."""
    command = cmd.ConfigureConsentSettings(
        brand_id=brand.id, settings=body, actor=api_key_id(request)
    )
    return accepted(await runtime.handle(command), response)
