"""The validated settings model, loaded from config.toml and the environment."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    StrictBool,
    StrictFloat,
    StrictInt,
    ValidationError,
)

from bot.domain import ConfigError, FetchError
from bot.urls import check_host_literal, normalize_feed_url

TOKEN_ENV = "TELEGRAM_BOT_TOKEN"


def _check_http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an http:// or https:// URL")
    return value.rstrip("/")


def _check_token(value: SecretStr) -> SecretStr:
    raw = value.get_secret_value()
    if not raw.strip():
        raise ValueError("is empty")
    if any(c.isspace() or c == "/" for c in raw):
        raise ValueError("is not a bot token (it has spaces or '/')")
    return value


def _check_db_url(value: str) -> str:
    if not (value.startswith("sqlite+aiosqlite://") or value.startswith("postgresql+asyncpg://")):
        raise ValueError("must start with sqlite+aiosqlite:// or postgresql+asyncpg://")
    return value


HttpUrl = Annotated[str, AfterValidator(_check_http_url)]
PositiveFloat = Annotated[StrictFloat | StrictInt, Field(gt=0)]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TelegramSettings(_Section):
    token: Annotated[SecretStr, AfterValidator(_check_token)]
    api_base_url: HttpUrl = "https://api.telegram.org"
    admins: list[StrictInt] = []


class DatabaseSettings(_Section):
    url: Annotated[str, AfterValidator(_check_db_url)] = "sqlite+aiosqlite:///newsbot.db"


class PollingSettings(_Section):
    interval_seconds: Annotated[StrictInt, Field(ge=1)] = 300
    allow_private_addresses: StrictBool = False
    connect_timeout_seconds: PositiveFloat = 10.0
    timeout_seconds: PositiveFloat = 30.0
    max_body_bytes: Annotated[StrictInt, Field(ge=1024)] = 5 * 1024 * 1024
    concurrency: Annotated[StrictInt, Field(ge=1, le=32)] = 10
    per_host_concurrency: Annotated[StrictInt, Field(ge=1, le=32)] = 4
    max_backoff_seconds: Annotated[StrictInt, Field(ge=1)] = 3600
    # A feed's Cache-Control max-age or RSS <ttl> may space its checks out up to this.
    max_interval_seconds: Annotated[StrictInt, Field(ge=1)] = 3600
    failure_alert_after: Annotated[StrictInt, Field(ge=1)] = 5
    max_new_per_poll: Annotated[StrictInt, Field(ge=1)] = 50
    alert_newest_on_flood: Annotated[StrictInt, Field(ge=0)] = 5
    retention_days: Annotated[StrictInt, Field(ge=1)] = 90


class DeliverySettings(_Section):
    global_per_second: PositiveFloat = 25.0
    per_chat_per_second: PositiveFloat = 1.0
    group_per_minute: PositiveFloat = 18.0
    parallel_chats: Annotated[StrictInt, Field(ge=1, le=64)] = 8
    max_backoff_seconds: Annotated[StrictInt, Field(ge=1)] = 300


class LimitsSettings(_Section):
    subscriptions_per_chat: Annotated[StrictInt, Field(ge=1, le=10_000)] = 100


class FeedSeed(_Section):
    url: HttpUrl
    name: Annotated[str, Field(min_length=1, max_length=200)] | None = None


class Settings(_Section):
    telegram: TelegramSettings
    database: DatabaseSettings = DatabaseSettings()
    polling: PollingSettings = PollingSettings()
    delivery: DeliverySettings = DeliverySettings()
    limits: LimitsSettings = LimitsSettings()
    feeds: list[FeedSeed] = []

    @property
    def token(self) -> str:
        return self.telegram.token.get_secret_value()


def _key(loc: tuple[int | str, ...]) -> str:
    """A location as the config file spells it: feeds[1].url, telegram.admins[0]."""
    key = ""
    for part in loc:
        key += f"[{part}]" if isinstance(part, int) else f".{part}" if key else str(part)
    return key


def _describe(error: dict[str, Any]) -> str:
    key = _key(tuple(error["loc"]))
    if error["type"] == "missing":
        return f"config error: {key} is missing"
    if error["type"] == "extra_forbidden":
        return f"config error: {key} is not a known key"
    msg = str(error["msg"]).removeprefix("Value error, ")
    return f"config error: {key}: {msg}"


def parse_settings(data: dict[str, Any], env: Mapping[str, str] | None = None) -> Settings:
    """Validate a config mapping; the environment's token wins over the file's."""
    if env is None:
        env = os.environ
    data = dict(data)
    token = env.get(TOKEN_ENV)
    if token:
        telegram = data.get("telegram")
        data["telegram"] = {**(telegram if isinstance(telegram, dict) else {}), "token": token}
    try:
        settings = Settings.model_validate(data)
    except ValidationError as exc:
        # One line naming the first bad key; never the value (it may be the token).
        raise ConfigError(_describe(dict(exc.errors(include_input=False)[0]))) from None
    _check_seed_addresses(settings)
    return settings


def _check_seed_addresses(settings: Settings) -> None:
    """Refuse a seed feed the address guard would refuse at every fetch, as a bad key of its own.
    Names are judged per fetch, after DNS; this sees numeric hosts and the URL's form."""
    allow_private = settings.polling.allow_private_addresses
    for n, seed in enumerate(settings.feeds):
        try:
            url = normalize_feed_url(seed.url)
            check_host_literal(urlsplit(url).hostname or "", allow_private)
        except FetchError as exc:  # the reason only: the URL may carry credentials
            raise ConfigError(f"config error: feeds[{n}].url: {exc}") from None


def load_settings(path: Path, env: Mapping[str, str] | None = None) -> Settings:
    """Read and validate a TOML config file."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"config error: cannot read {path}: {exc.strerror}") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"config error: {path} is not valid TOML: {exc}") from None
    return parse_settings(data, env)
