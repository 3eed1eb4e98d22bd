"""The operator's settings: one TOML file, with secrets from the environment or secret files.

Every bad value stops start-up with one line that names the key to fix, because an operator
reading a container log at night needs the key, not a validation dump. No message ever carries a
secret's value: a token pasted into the wrong key must not end up in the same log it was meant
to stay out of.
"""

from __future__ import annotations

import difflib
import os
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    StrictBool,
    StrictInt,
    StrictStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails, PydanticCustomError

from bot.crypto.keys import MasterKey
from bot.crypto.recovery import PRIVATE_PREFIX as RECOVERY_PRIVATE_PREFIX
from bot.crypto.recovery import PUBLIC_PREFIX as RECOVERY_PUBLIC_PREFIX
from bot.crypto.recovery import parse_public_key, public_text
from bot.i18n import COORDINATOR_LANGUAGES

if TYPE_CHECKING:
    from bot.intake.questionnaire import Questionnaire

#: Languages a catalogue exists for; keep in step with ``bot.i18n.LANGUAGES``.
KNOWN_LANGUAGES: tuple[str, ...] = ("en", "my", "my-zawgyi")
NEXT_STEPS_MAX_CHARS = 1000  # it shares a message with other texts, within Telegram's 4096

TOKEN_PATTERN = re.compile(r"^\d+:[A-Za-z0-9_-]{30,}$")
# Telegram's rule for a webhook secret_token, with a floor so it cannot be guessed.
WEBHOOK_SECRET_PATTERN = re.compile(r"^[A-Za-z0-9_-]{16,256}$")
# Anything token-shaped inside a URL we might print (base_url, webhook_url).
_TOKEN_INSIDE = re.compile(r"\d+:[A-Za-z0-9_-]{30,}")
_LANGUAGE_CODE = re.compile(r"[a-z]{2,3}(?:-[a-z0-9]{2,12})?", re.IGNORECASE)
# A secret file is a line or two, never megabytes; a wrong path to a big file stops here.
_MAX_SECRET_FILE_BYTES = 64 * 1024
#: The group id written in config.example.toml. Supergroup ids are -100 and then the group's own
#: number, which is never 0, so no real group has this id: a config that still holds it was
#: copied and not filled in, and notices would go nowhere.
EXAMPLE_GROUP_CHAT_ID = -1_000_000_000_000


class ConfigError(Exception):
    """A config problem, as the single line an operator sees: ``config error: <key>: <reason>``."""

    def __init__(self, message: str) -> None:
        line = " ".join(message.split())
        super().__init__(line if line.startswith("config error: ") else f"config error: {line}")


# --- field types --------------------------------------------------------------------------------


def _to_path(value: object) -> object:
    """TOML has no path type: accept a string, keep anything else for pydantic to refuse."""
    if isinstance(value, str):
        return Path(value).expanduser()
    return value


def _empty_to_none(value: object) -> object:
    """An empty string in the example file means "not set", not "the current folder"."""
    if value == "":
        return None
    return _to_path(value)


def _to_master_key(value: object) -> object:
    if isinstance(value, str):
        return MasterKey.from_text(value)
    return value


ConfigPath = Annotated[Path, BeforeValidator(_to_path)]
OptionalPath = Annotated[Path | None, BeforeValidator(_empty_to_none)]


def _to_recovery_public_key(value: object) -> object:
    if isinstance(value, str):
        return parse_public_key(value)
    return value


def _under_base(path: Path, info: ValidationInfo) -> Path:
    """Relative paths count from the config file's folder, so the bot finds its files whatever
    folder it was started from."""
    context = info.context if isinstance(info.context, dict) else {}
    base = context.get("base_dir")
    if path.is_absolute() or not isinstance(base, Path):
        return path
    return base / path


def _maybe_under_base(path: Path | None, info: ValidationInfo) -> Path | None:
    return None if path is None else _under_base(path, info)


TELEGRAM_API_HOST = "api.telegram.org"


def _key_error(key: str, reason: str) -> PydanticCustomError:
    """An error raised by a whole-section check but about one key, so the message can name it."""
    return PydanticCustomError("config_key", "{reason}", {"key": key, "reason": reason})


def _check_http_url(value: str, *, https_only: bool = False) -> str:
    parts = urlsplit(value)
    schemes = ("https",) if https_only else ("http", "https")
    if parts.scheme not in schemes or not parts.netloc:
        raise ValueError(
            "must be an https:// URL" if https_only else "must be an http:// or https:// URL"
        )
    if parts.query or parts.fragment:
        raise ValueError("must not have a query or a fragment")
    if _TOKEN_INSIDE.search(value):
        raise ValueError("must not contain the bot token")
    return value


def check_token(value: str) -> None:
    """Raise ``ValueError`` unless ``value`` is shaped like a bot token; never echoes it."""
    if not TOKEN_PATTERN.fullmatch(value):
        raise ValueError(
            "does not look like a bot token (digits, a colon, then 30 or more letters, digits, "
            "_ or -; get one from @BotFather)"
        )


def check_webhook_secret(value: str) -> None:
    if not WEBHOOK_SECRET_PATTERN.fullmatch(value):
        raise ValueError("must be 16 to 256 characters of A-Z, a-z, 0-9, _ and -")


# --- sections -------------------------------------------------------------------------------------


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TelegramConfig(_Section):
    token: SecretStr
    token_file: OptionalPath = Field(default=None, validate_default=True)
    base_url: StrictStr = "https://api.telegram.org/bot"
    mode: Literal["polling", "webhook"] = "polling"
    poll_timeout_seconds: StrictInt = Field(default=30, ge=1, le=90)
    rate_limit: StrictBool = True
    webhook_listen: StrictStr = Field(default="127.0.0.1", min_length=1)
    webhook_port: StrictInt = Field(default=8443, ge=1, le=65535)
    webhook_url: StrictStr = ""
    webhook_secret: SecretStr | None = None
    webhook_secret_file: OptionalPath = Field(default=None, validate_default=True)

    @field_validator("token")
    @classmethod
    def _token_shape(cls, value: SecretStr) -> SecretStr:
        check_token(value.get_secret_value())
        return value

    @field_validator("webhook_secret")
    @classmethod
    def _webhook_secret_shape(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            check_webhook_secret(value.get_secret_value())
        return value

    @field_validator("base_url")
    @classmethod
    def _base_url(cls, value: str) -> str:
        return _check_http_url(value)

    @field_validator("webhook_url")
    @classmethod
    def _webhook_url(cls, value: str) -> str:
        return value and _check_http_url(value)

    @field_validator("token_file", "webhook_secret_file")
    @classmethod
    def _relative_paths(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        return _maybe_under_base(value, info)

    @model_validator(mode="after")
    def _webhook_needs(self) -> TelegramConfig:
        if self.mode == "webhook":
            if not self.webhook_url:
                raise _key_error("webhook_url", "required when telegram.mode is webhook")
            # Telegram itself only calls https webhooks; a self-hosted Bot API server may use http.
            if urlsplit(self.base_url).hostname == TELEGRAM_API_HOST and not (
                self.webhook_url.startswith("https://")
            ):
                raise _key_error("webhook_url", "must be an https:// URL for Telegram's own API")
            if self.webhook_secret is None:
                raise _key_error(
                    "webhook_secret",
                    "required when telegram.mode is webhook; set BOT_WEBHOOK_SECRET, "
                    "BOT_WEBHOOK_SECRET_FILE or telegram.webhook_secret_file",
                )
        return self


class StorageConfig(_Section):
    database: ConfigPath = Field(default=Path("data/bot.sqlite3"), validate_default=True)

    @field_validator("database")
    @classmethod
    def _relative(cls, value: Path, info: ValidationInfo) -> Path:
        return _under_base(value, info)


class SecurityConfig(_Section):
    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    master_key: Annotated[MasterKey, BeforeValidator(_to_master_key)]
    master_key_file: OptionalPath = Field(default=None, validate_default=True)
    previous_master_key_files: tuple[ConfigPath, ...] = ()
    recovery_public_key: Annotated[bytes, BeforeValidator(_to_recovery_public_key)]
    # Only coordinators' passphrases use Argon2id. The floor is RFC 9106's second recommended
    # option: a stolen protected key must cost every guess at least this much.
    argon2_memory_kib: StrictInt = Field(default=65536, ge=65536, le=4 * 1024 * 1024)
    argon2_iterations: StrictInt = Field(default=3, ge=3, le=64)
    argon2_lanes: StrictInt = Field(default=4, ge=4, le=64)

    _previous_master_keys: tuple[MasterKey, ...] = PrivateAttr(default=())

    @property
    def previous_master_keys(self) -> tuple[MasterKey, ...]:
        """Old master keys read from ``previous_master_key_files``, so drafts wrapped under them
        can still be opened (and rewrapped) during a rotation."""
        return self._previous_master_keys

    @field_validator("master_key_file")
    @classmethod
    def _relative_file(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        return _maybe_under_base(value, info)

    @field_validator("previous_master_key_files")
    @classmethod
    def _relative_files(cls, value: tuple[Path, ...], info: ValidationInfo) -> tuple[Path, ...]:
        return tuple(_under_base(v, info) for v in value)


class IntakeConfig(_Section):
    questionnaire: OptionalPath = Field(default=None, validate_default=True)
    languages: tuple[StrictStr, ...] = KNOWN_LANGUAGES
    draft_ttl_hours: StrictInt = Field(default=168, ge=1, le=2160)
    max_text_length: StrictInt = Field(default=1000, ge=10, le=4000)
    flood_messages_per_minute: StrictInt = Field(default=30, ge=1, le=600)
    status_attempts_per_hour: StrictInt = Field(default=5, ge=1, le=100)
    # What happens after a form is sent, in the organisation's own words, by written language
    # ("en", "my"; Zawgyi phones get the "my" text converted). Left out: the catalogue's.
    next_steps: dict[StrictStr, StrictStr] = Field(default_factory=dict)

    @field_validator("next_steps")
    @classmethod
    def _written_languages(cls, value: dict[str, str]) -> dict[str, str]:
        for lang, text in value.items():
            if lang == "my-zawgyi":
                raise ValueError('write the Burmese text once, under "my"; Zawgyi is converted')
            if lang not in KNOWN_LANGUAGES:
                shown = f" {lang!r}" if _LANGUAGE_CODE.fullmatch(lang) else ""
                raise ValueError(f"unknown language{shown}; known: en, my")
            if not text.strip() or len(text) > NEXT_STEPS_MAX_CHARS:
                raise ValueError(f"{lang}: must be 1 to {NEXT_STEPS_MAX_CHARS} characters")
        return value

    @field_validator("questionnaire")
    @classmethod
    def _relative(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        return _maybe_under_base(value, info)

    @field_validator("languages")
    @classmethod
    def _known_languages(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError("must list at least one language")
        for lang in value:
            if lang not in KNOWN_LANGUAGES:
                # Quote only what looks like a language code: this could be a pasted secret.
                shown = f" {lang!r}" if _LANGUAGE_CODE.fullmatch(lang) else ""
                known = ", ".join(KNOWN_LANGUAGES)
                raise ValueError(f"unknown language{shown}; known: {known}")
        if len(set(value)) != len(value):
            raise ValueError("lists a language twice")
        return value


def _a_group(value: int) -> int:
    # Positive ids are people: a notice sent there would tell a stranger a case exists.
    if value >= 0:
        raise ValueError("must be a negative group id (a positive id is a person's private chat)")
    if value == EXAMPLE_GROUP_CHAT_ID:
        raise ValueError(
            "still the example's placeholder; replace it with your coordinators' group id"
        )
    return value


_TEAM_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")


class TeamConfig(_Section):
    """One team: its name (used in ``bot invite --team`` and ``/transfer``), whether cases no
    route matches go to it, its own group for notices, and the answers that route a case to it:
    ``route = { region = ["mon", "tanintharyi"] }`` (question id = option ids)."""

    name: StrictStr
    default: StrictBool = False
    group_chat_id: StrictInt | None = None
    route: dict[StrictStr, tuple[StrictStr, ...]] = Field(default_factory=dict)
    # How long a check-in may stay unanswered before the team's group is told; the
    # organisation's ``checkin_grace_minutes`` if not set.
    checkin_grace_minutes: StrictInt | None = Field(default=None, ge=5, le=720)

    @field_validator("name")
    @classmethod
    def _plain_name(cls, value: str) -> str:
        if not _TEAM_NAME.fullmatch(value):
            raise ValueError("must be 1-32 of a-z, 0-9, _ and -, starting with a letter or digit")
        return value

    @field_validator("group_chat_id")
    @classmethod
    def _team_group(cls, value: int | None) -> int | None:
        return None if value is None else _a_group(value)


class CoordinationConfig(_Section):
    group_chat_id: StrictInt
    two_person_approval: StrictBool = False
    case_view_ttl_seconds: StrictInt = Field(default=300, ge=10, le=86400)
    unlock_idle_minutes: StrictInt = Field(default=15, ge=1, le=1440)
    unlock_max_hours: StrictInt = Field(default=8, ge=1, le=24)
    invite_ttl_hours: StrictInt = Field(default=48, ge=1, le=720)
    checkin_grace_minutes: StrictInt = Field(default=120, ge=5, le=720)
    teams: tuple[TeamConfig, ...] = ()

    @field_validator("group_chat_id")
    @classmethod
    def _main_group(cls, value: int) -> int:
        return _a_group(value)

    @field_validator("teams")
    @classmethod
    def _one_default(cls, value: tuple[TeamConfig, ...]) -> tuple[TeamConfig, ...]:
        names = [team.name for team in value]
        for name in names:
            if names.count(name) > 1:
                raise ValueError(f"two teams are named {name!r}")
        if len(value) > 1:
            for team in value:
                if team.group_chat_id is None:
                    # Else its notices (codes, triage) would reach the main group, where the
                    # other teams are too.
                    raise ValueError(
                        f"team {team.name!r} has no group_chat_id; with several teams each needs"
                        " its own group (give two teams the same id to share one on purpose)"
                    )
        defaults = [team.name for team in value if team.default]
        if value and len(defaults) != 1:
            raise ValueError(
                "exactly one team must have default = true (it gets the cases no route matches)"
                f"; found {len(defaults)}"
            )
        return value


STEP_TEXT_MAX_CHARS = 200


class VettingStepConfig(_Section):
    """One of the organisation's vetting steps: its id (what ``/check CODE ID`` takes), its text
    in every coordinator language, whether approval waits for it, and whether it must be a
    second person's (see ``bot.coordination.vetting``)."""

    id: StrictStr
    text: dict[StrictStr, StrictStr]
    required: StrictBool = True
    second_person: StrictBool = False
    reopen_on_account_change: StrictBool = False

    @field_validator("id")
    @classmethod
    def _plain_id(cls, value: str) -> str:
        return TeamConfig._plain_name(value)  # typed after /check as a team's name is

    @field_validator("text")
    @classmethod
    def _every_language(cls, value: dict[str, str]) -> dict[str, str]:
        wanted = ", ".join(COORDINATOR_LANGUAGES)
        for lang, words in value.items():
            if lang not in COORDINATOR_LANGUAGES:
                raise ValueError(f"unknown language {_shown(lang)!r}; give exactly {wanted}")
            if not words.strip() or len(words) > STEP_TEXT_MAX_CHARS or "\n" in words:
                raise ValueError(f"{lang}: one line of 1 to {STEP_TEXT_MAX_CHARS} characters")
        absent = [lang for lang in COORDINATOR_LANGUAGES if lang not in value]
        if absent:
            raise ValueError(f"missing {', '.join(absent)}; give exactly {wanted}")
        return value


def _default_step(
    step_id: str,
    en: str,
    my: str,
    *,
    required: bool = True,
    second_person: bool = False,
    reopen: bool = False,
) -> VettingStepConfig:
    return VettingStepConfig(
        id=step_id,
        text={"en": en, "my": my},
        required=required,
        second_person=second_person,
        reopen_on_account_change=reopen,
    )


#: The steps when the config has no [vetting] section: the example config's set. A deployment
#: upgraded from a release without steps then asks for them before the next approval (its
#: coordinators are told which), rather than approving with none recorded; the second person's
#: step is asked of flagged cases only, so a team of one is not stopped.
DEFAULT_VETTING_STEPS: tuple[VettingStepConfig, ...] = (
    _default_step("call", "A call with the person", "လူကိုယ်တိုင်နဲ့ ဖုန်းပြောပြီးပြီ", reopen=True),
    _default_step(
        "story",
        "Their story checks out with someone who served there",
        "အဲဒီမှာ တာဝန်ထမ်းခဲ့ဖူးသူနဲ့ စစ်ကြည့်ပြီး ပြောတာတွေ ကိုက်ညီတယ်",
    ),
    _default_step(
        "number",
        "They said the verification number back",
        "အတည်ပြုနံပါတ်ကို သူ ပြန်ပြောနိုင်တယ်",
        reopen=True,
    ),
    _default_step(
        "second",
        "A second coordinator agrees",
        "ဒုတိယ ညှိနှိုင်းရေးမှူး တစ်ယောက်က သဘောတူတယ်",
        required=False,
        second_person=True,
    ),
)
VETTING_STEPS_MAX = 20


class VettingConfig(_Section):
    """The organisation's vetting steps, in the order they are usually done."""

    steps: tuple[VettingStepConfig, ...] = DEFAULT_VETTING_STEPS

    @field_validator("steps")
    @classmethod
    def _distinct(cls, value: tuple[VettingStepConfig, ...]) -> tuple[VettingStepConfig, ...]:
        if len(value) > VETTING_STEPS_MAX:
            raise ValueError(f"at most {VETTING_STEPS_MAX} steps; found {len(value)}")
        ids = [step.id for step in value]
        for step_id in ids:
            if ids.count(step_id) > 1:
                raise ValueError(f"two steps have the id {step_id!r}")
        return value


class RetentionConfig(_Section):
    """Days after which each kind of record is shredded."""

    submitted_days: StrictInt = Field(le=36500, default=90, ge=1)
    rejected_days: StrictInt = Field(le=36500, default=14, ge=1)
    handed_off_days: StrictInt = Field(le=36500, default=30, ge=1)
    closed_days: StrictInt = Field(le=36500, default=7, ge=1)
    audit_days: StrictInt = Field(le=36500, default=365, ge=1)
    outbox_hours: StrictInt = Field(le=24, default=24, ge=1)


class LoggingConfig(_Section):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    format: Literal["json", "console"] = "json"

    @field_validator("level", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value


class Config(_Section):
    telegram: TelegramConfig
    storage: StorageConfig = Field(default_factory=StorageConfig)
    security: SecurityConfig
    intake: IntakeConfig = Field(default_factory=IntakeConfig)
    coordination: CoordinationConfig
    retention: RetentionConfig = Field(default_factory=RetentionConfig)
    vetting: VettingConfig = Field(default_factory=VettingConfig)
    logging: LoggingConfig = Field(default_factory=LoggingConfig)

    _path: Path | None = PrivateAttr(default=None)
    _sources: dict[str, str] = PrivateAttr(default_factory=dict)

    @property
    def path(self) -> Path | None:
        """The file this config was read from; ``None`` when it came from the environment."""
        return self._path

    def secret_source(self, key: str) -> str | None:
        """Where a secret came from (``"BOT_TOKEN"``, ``"telegram.token_file /run/…"``)."""
        return self._sources.get(key)

    def describe(self) -> list[str]:
        """A summary safe to print: secrets appear only as where they came from."""
        lines = [f"config file: {self._path if self._path else '(none: environment only)'}"]
        for section_name, section in self:
            if not isinstance(section, BaseModel):
                continue
            for key, value in section:
                dotted = f"{section_name}.{key}"
                shown = self._describe_value(dotted, value)
                if dotted == "storage.database" and dotted in self._sources:
                    shown += f" (from {self._sources[dotted]})"
                lines.append(f"{dotted}: {shown}")
        previous = len(self.security.previous_master_keys)
        lines.append(f"security.previous_master_keys: {previous} loaded")
        return lines

    def _describe_value(self, dotted: str, value: object) -> str:
        if isinstance(value, SecretStr | MasterKey):
            return f"set (from {self._sources.get(dotted, 'config')})"
        if dotted == "coordination.teams":
            teams = [t.name + (" (default)" if t.default else "") for t in self.coordination.teams]
            return ", ".join(teams) if teams else "none (one team)"
        if dotted == "security.recovery_public_key" and isinstance(value, bytes):
            return public_text(value)
        if dotted in _HIDDEN_VALUES:
            return "set" if value is not None else "not set"
        if value is None or value == "":
            return "not set"
        if isinstance(value, tuple):
            return "[" + ", ".join(str(v) for v in value) + "]"
        if isinstance(value, bool):
            return "true" if value else "false"
        return str(value)


# Not secrets, but a Telegram id: printed as present or absent only.
_HIDDEN_VALUES = frozenset({"coordination.group_chat_id"})


# --- loading --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _SecretSpec:
    section: str
    key: str
    file_key: str
    env: str
    env_file: str
    check: Callable[[str], None]

    @property
    def dotted(self) -> str:
        return f"{self.section}.{self.key}"

    def missing(self) -> str:
        return f"missing; set {self.env}, {self.env_file} or {self.section}.{self.file_key}"


def _check_master_key(text: str) -> None:
    MasterKey.from_text(text)


_TOKEN = _SecretSpec("telegram", "token", "token_file", "BOT_TOKEN", "BOT_TOKEN_FILE", check_token)
_WEBHOOK_SECRET = _SecretSpec(
    "telegram",
    "webhook_secret",
    "webhook_secret_file",
    "BOT_WEBHOOK_SECRET",
    "BOT_WEBHOOK_SECRET_FILE",
    check_webhook_secret,
)
_MASTER_KEY = _SecretSpec(
    "security",
    "master_key",
    "master_key_file",
    "BOT_MASTER_KEY",
    "BOT_MASTER_KEY_FILE",
    _check_master_key,
)

_MISSING_HINTS = {
    "coordination.group_chat_id": (
        "missing; set it to the coordinators' group id (a negative number) or BOT_GROUP_CHAT_ID"
    ),
    "security.recovery_public_key": (
        "missing; make the recovery key pair offline with `python -m bot recovery-keygen --out"
        " FILE` and set the public half it prints here or in BOT_RECOVERY_PUBLIC_KEY"
    ),
    _TOKEN.dotted: _TOKEN.missing(),
    _MASTER_KEY.dotted: _MASTER_KEY.missing(),
}


def load_config(path: Path | None, environ: Mapping[str, str] | None = None) -> Config:
    """Read ``path`` (or only defaults and the environment if ``None``) into a checked ``Config``.

    Raises ``ConfigError`` with one line naming the first problem.
    """
    config, _ = _load(path, environ, _Problems(collect=False))
    if config is None:  # a problem raised before this; kept for the type checker
        raise ConfigError("config: not loaded")
    return config


def check_config(
    path: Path | None, environ: Mapping[str, str] | None = None
) -> tuple[Config | None, list[str]]:
    """Every problem of the config at once, one line each (``check-config``): a fresh copy
    should not take one round per mistake. With the problems comes the config whenever its
    settings could be read; a secret that could not is a stand-in there, so a config that comes
    with problems is for checking the rest (the database's folder), never for use."""
    return _load(path, environ, _Problems(collect=True))


class _Problems:
    """Where a problem goes: raised at once (``load_config``), or kept with the rest."""

    def __init__(self, *, collect: bool) -> None:
        self.collect = collect
        self.lines: list[str] = []

    def add(self, problem: ConfigError | str) -> None:
        error = problem if isinstance(problem, ConfigError) else ConfigError(problem)
        if not self.collect:
            raise error
        if str(error) not in self.lines:
            self.lines.append(str(error))


# Stand-ins for a secret that could not be read, so that the rest of the config is still checked
# (``check_config``); a config with any problem is never returned, so they are never used.
_STAND_IN_TOKEN = "0:" + "0" * 30


def _load(
    path: Path | None, environ: Mapping[str, str] | None, problems: _Problems
) -> tuple[Config | None, list[str]]:
    env = os.environ if environ is None else environ
    text, data = _read_toml(path)
    base_dir = path.absolute().parent if path is not None else Path.cwd()

    unknown = _unknown_names(data, text, path)
    for line in unknown:
        problems.add(line)
    if unknown:
        return None, problems.lines  # the rest would only repeat them under other names
    sources: dict[str, str] = {}
    # Every section goes through validation with the base folder, even one the file leaves out,
    # so its default relative paths are resolved like written ones.
    sections = {name: _section(data, name, text, path) for name in Config.model_fields}
    telegram, security, coordination, storage = (
        sections[n] for n in ("telegram", "security", "coordination", "storage")
    )

    try:
        telegram["token"], sources[_TOKEN.dotted] = _required_secret(
            _TOKEN, telegram, env, base_dir
        )
    except ConfigError as exc:
        problems.add(exc)
        telegram["token"] = _STAND_IN_TOKEN
    try:
        webhook = _resolve_secret(_WEBHOOK_SECRET, telegram, env, base_dir)
    except ConfigError as exc:
        problems.add(exc)
        webhook = None
    if webhook is not None:
        telegram["webhook_secret"], sources[_WEBHOOK_SECRET.dotted] = webhook
    else:
        telegram.pop("webhook_secret", None)  # "" in the file means not set
    try:
        key_text, sources[_MASTER_KEY.dotted] = _required_secret(
            _MASTER_KEY, security, env, base_dir
        )
        security["master_key"] = MasterKey.from_text(key_text)
    except ConfigError as exc:
        problems.add(exc)
        security["master_key"] = MasterKey.generate()
    from_env = env.get("BOT_RECOVERY_PUBLIC_KEY", "").strip()
    recovery = from_env or security.get("recovery_public_key")
    if recovery == "":  # the example's empty value means not set
        security.pop("recovery_public_key")
    elif recovery is not None:
        if isinstance(recovery, str) and recovery.strip().startswith(RECOVERY_PRIVATE_PREFIX):
            where = "BOT_RECOVERY_PUBLIC_KEY" if from_env else "the config file"
            problems.add(
                f"security.recovery_public_key (from {where}): THIS IS THE PRIVATE HALF of the "
                "recovery key, which opens every case and must NEVER be on the server: delete "
                "it here and everywhere on this machine, and set the public half "
                f"({RECOVERY_PUBLIC_PREFIX}...) instead"
            )
            security["recovery_public_key"] = public_text(bytes(32))  # a stand-in, as above
        else:
            security["recovery_public_key"] = recovery
    group = env.get("BOT_GROUP_CHAT_ID", "").strip()
    if group:
        try:
            coordination["group_chat_id"] = int(group)
        except ValueError:
            problems.add("coordination.group_chat_id (from BOT_GROUP_CHAT_ID): must be an integer")
            coordination.pop("group_chat_id", None)
    database = env.get("BOT_DATABASE", "").strip()
    if database:
        storage["database"] = database
        sources["storage.database"] = "BOT_DATABASE"

    try:
        config = Config.model_validate(data, context={"base_dir": base_dir})
    except ValidationError as exc:
        for error in exc.errors():
            problems.add(_describe_error(error, data, text, path))
        return None, problems.lines

    previous: list[MasterKey] = []
    for index, key_path in enumerate(config.security.previous_master_key_files):
        name = f"security.previous_master_key_files[{index}]"
        try:
            previous.append(MasterKey.from_text(_read_secret_file(name, key_path)))
        except ValueError as exc:
            problems.add(f"{name}: the key in {key_path} {exc}")
        except ConfigError as exc:
            problems.add(exc)
    config.security._previous_master_keys = tuple(previous)
    config._path = path.absolute() if path is not None else None
    config._sources = sources
    return config, problems.lines


def load_telegram(path: Path | None, environ: Mapping[str, str] | None = None) -> TelegramConfig:
    """The [telegram] section alone, its token resolved as ``load_config`` resolves it: what
    ``group-id`` needs before the rest of the config (the group's id above all) can be filled in.
    """
    env = os.environ if environ is None else environ
    _, data = _read_toml(path)
    base_dir = path.absolute().parent if path is not None else Path.cwd()
    section = data.get("telegram", {})
    if not isinstance(section, dict):
        raise ConfigError("telegram: must be a table ([telegram])")
    section = dict(section)
    section["token"] = _required_secret(_TOKEN, section, env, base_dir)[0]
    section.pop("webhook_secret", None)
    section.pop("webhook_secret_file", None)
    section["mode"] = "polling"
    try:
        return TelegramConfig.model_validate(section, context={"base_dir": base_dir})
    except ValidationError as exc:
        error = exc.errors()[0]
        loc: tuple[str | int, ...] = ("telegram", *error["loc"])
        raise ConfigError(f"{_dotted(loc)}: {_reason(error, loc, data)}") from None


def _read_toml(path: Path | None) -> tuple[str, dict[str, Any]]:
    """The config file's text and its TOML (nothing for no file); a syntax error is one line."""
    if path is None:
        return "", {}
    text = _read_config_text(path)
    try:
        return text, tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(_toml_problem(path, text, str(exc))) from None
    except (ValueError, RecursionError):
        raise ConfigError(
            f"{path.name}: a number is too large or values are nested too deeply"
        ) from None


def _read_config_text(path: Path) -> str:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {_os_reason(exc)}") from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"{path.name}: not UTF-8 text") from None


_TEAMS_LIST = re.compile(r"^\s*teams\s*=\s*\[\s*\]", re.MULTILINE)
_TEAM_BLOCK = re.compile(r"^\s*\[\[\s*coordination\.teams\s*\]\]", re.MULTILINE)


def _toml_problem(path: Path, text: str, message: str) -> str:
    """The file's syntax error as one line; the example's ``teams = []`` left beside team blocks
    is named as such, not as TOML's "cannot overwrite a value"."""
    listed, block = _TEAMS_LIST.search(text), _TEAM_BLOCK.search(text)
    if listed and block:
        line = text.count("\n", 0, listed.start()) + 1
        return (
            f"coordination.teams: delete the line `teams = []` ({path.name} line {line}); "
            "the [[coordination.teams]] blocks replace it"
        )
    return f"{path.name} {_toml_reason(message)}"


_TOML_POSITION = re.compile(r"^(?P<reason>.*?)\s*\(at line (?P<line>\d+), column \d+\)$")


def _toml_reason(message: str) -> str:
    """``"line 3: <reason>"`` from tomllib's ``"<reason> (at line 3, column 7)"``."""
    found = _TOML_POSITION.match(message)
    if found:
        return f"line {found['line']}: {found['reason']}"
    return f"line ?: {message.replace('(at end of document)', '(at the end of the file)')}"


def _section(data: dict[str, Any], name: str, text: str, path: Path | None) -> dict[str, Any]:
    section = data.setdefault(name, {})
    if not isinstance(section, dict):
        raise ConfigError(f"{name}: must be a table ([{name}]){_where(text, (name,), path)}")
    return section


_PLAIN_NAME = re.compile(r"[A-Za-z0-9_-]{1,40}")


def _unknown_names(data: Mapping[str, Any], text: str, path: Path | None) -> list[str]:
    """Unknown sections and keys, each with the nearest valid name, before anything else: a
    misspelt [cordination] would otherwise surface as its group_chat_id missing, sending the
    operator to look for a value that is there."""
    found: list[str] = []
    sections = dict(Config.model_fields)
    for name, value in data.items():
        if name in sections:
            known = _field_names(sections[name].annotation)
            if isinstance(value, dict):  # anything else is "must be a table" further on
                found.extend(
                    f"{_shown(name)}.{_shown(key)}: unknown key"
                    f"{_nearest_key(name, key)}{_where(text, (name, key), path)}"
                    for key in value
                    if key not in known
                )
            continue
        where = _where(text, (name,), path)
        if isinstance(value, dict):
            near = difflib.get_close_matches(name, sections, n=1)
            hint = f"; did you mean [{near[0]}]?" if near else f"; known: {', '.join(sections)}"
            found.append(f"unknown section [{_shown(name)}]{hint}{where}")
            continue
        owners = [s for s, f in sections.items() if name in _field_names(f.annotation)]
        hint = f"; it belongs under [{owners[0]}]" if owners else _nearest_section(name)
        found.append(f"{_shown(name)}: unknown key outside any section{hint}{where}")
    return found


def _field_names(model: object) -> tuple[str, ...]:
    if isinstance(model, type) and issubclass(model, BaseModel):
        return tuple(model.model_fields)
    return ()


def _nearest_key(section: str, key: str) -> str:
    """The section a key of exactly that name is in (``database`` written under [telegram]),
    else a key of this section close to it: a name that exists is a surer guess than a spelling
    near one."""
    for other, field in Config.model_fields.items():
        if key in _field_names(field.annotation):
            return f"; it belongs under [{other}]"
    near = difflib.get_close_matches(key, _field_names(Config.model_fields[section].annotation), 1)
    return f"; did you mean {section}.{near[0]}?" if near else ""


def _nearest_section(name: str) -> str:
    near = difflib.get_close_matches(name, list(Config.model_fields), n=1)
    return f"; did you mean [{near[0]}]?" if near else ""


def _shown(name: str) -> str:
    """A name as written, unless it could be something pasted in the wrong place (a token)."""
    return name if _PLAIN_NAME.fullmatch(name) else "(a name that is not a plain word)"


def _where(text: str, loc: tuple[str | int, ...], path: Path | None) -> str:
    line = _line_of(text, loc) if text and path is not None else None
    return f" ({path.name} line {line})" if path is not None and line is not None else ""


def _required_secret(
    spec: _SecretSpec, section: Mapping[str, Any], env: Mapping[str, str], base_dir: Path
) -> tuple[str, str]:
    found = _resolve_secret(spec, section, env, base_dir)
    if found is None:
        raise ConfigError(f"{spec.dotted}: {spec.missing()}")
    return found


def _resolve_secret(
    spec: _SecretSpec, section: Mapping[str, Any], env: Mapping[str, str], base_dir: Path
) -> tuple[str, str] | None:
    """The secret's value and where it came from, by precedence: environment, environment-named
    file, file named in the config, value in the config. An empty value counts as unset."""
    value: str
    if env.get(spec.env, "").strip():
        value, source = env[spec.env].strip(), spec.env
    elif env.get(spec.env_file, "").strip():
        file = Path(env[spec.env_file].strip()).expanduser()
        value, source = _read_secret_file(spec.env_file, file), f"{spec.env_file} {file}"
    elif (named := section.get(spec.file_key)) not in (None, ""):
        if not isinstance(named, str):
            raise ConfigError(f"{spec.section}.{spec.file_key}: must be a path string")
        file = Path(named).expanduser()
        file = file if file.is_absolute() else base_dir / file
        name = f"{spec.section}.{spec.file_key}"
        value, source = _read_secret_file(name, file), f"{name} {file}"
    elif (inline := section.get(spec.key)) not in (None, ""):
        if not isinstance(inline, str):
            raise ConfigError(f"{spec.dotted}: must be a string")
        value, source = inline.strip(), f"{spec.dotted} in the config file"
    else:
        return None
    try:
        spec.check(value)
    except ValueError as exc:
        raise ConfigError(f"{spec.dotted} (from {source}): {exc}") from None
    return value, source


def _read_secret_file(name: str, path: Path) -> str:
    try:
        with path.open("rb") as handle:
            raw = handle.read(_MAX_SECRET_FILE_BYTES + 1)
    except OSError as exc:
        raise ConfigError(f"{name}: cannot read {path}: {_os_reason(exc)}") from None
    if len(raw) > _MAX_SECRET_FILE_BYTES:
        raise ConfigError(f"{name}: {path} is too large to be a secret file")
    try:
        text = raw.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise ConfigError(f"{name}: {path} is not UTF-8 text") from None
    if not text:
        raise ConfigError(f"{name}: {path} is empty")
    return text


def _os_reason(exc: OSError) -> str:
    return exc.strerror or type(exc).__name__


# --- pydantic errors as one line ------------------------------------------------------------------


def _describe_error(
    error: ErrorDetails, data: Mapping[str, Any], text: str, path: Path | None
) -> str:
    loc: tuple[str | int, ...] = tuple(error["loc"])
    ctx = error.get("ctx") or {}
    if error["type"] == "config_key":
        loc = (*loc, str(ctx["key"]))
    dotted = _dotted(loc)
    reason = _reason(error, loc, data)
    if error["type"] == "missing" and dotted in _MISSING_HINTS:
        reason = _MISSING_HINTS[dotted]
    return f"{dotted}: {reason}{_where(text, loc, path)}"


def _dotted(loc: tuple[str | int, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out or "config"


def _reason(error: ErrorDetails, loc: tuple[str | int, ...], data: Mapping[str, Any]) -> str:
    kind = error["type"]
    ctx = error.get("ctx") or {}
    if kind == "extra_forbidden":
        section = len(loc) == 1 and isinstance(data.get(str(loc[0])), dict)
        return "unknown section" if section else "unknown key"
    simple = {
        "missing": "missing",
        "int_type": "must be a whole number",
        "int_parsing": "must be a whole number",
        "int_from_float": "must be a whole number",
        "bool_type": "must be true or false",
        "bool_parsing": "must be true or false",
        "string_type": "must be a string (in quotes)",
        "tuple_type": 'must be a list, like ["a", "b"]',
        "list_type": 'must be a list, like ["a", "b"]',
        "model_type": "must be a table",
        "model_attributes_type": "must be a table",
        "dict_type": "must be a table",
        "path_type": "must be a path string",
        "is_instance_of": "must be a string",
    }
    if kind in simple:
        return simple[kind]
    if kind == "greater_than_equal":
        return f"must be at least {ctx['ge']}"
    if kind == "less_than_equal":
        return f"must be at most {ctx['le']}"
    if kind == "string_too_short":
        return "must not be empty"
    if kind == "literal_error":
        return f"must be one of {ctx['expected']}"
    message = error["msg"]
    for prefix in ("Value error, ", "Assertion failed, "):
        message = message.removeprefix(prefix)
    return message


_TABLE_HEADER = re.compile(r"^\s*\[(?!\[)\s*(?P<name>[^\]]+?)\s*\]\s*(?:#.*)?$")
_KEY_LINE = re.compile(r"^\s*(?P<key>[A-Za-z0-9_\-.\"' ]+?)\s*=")


def _split_key(key: str) -> tuple[str, ...]:
    return tuple(part.strip().strip("\"'") for part in key.split("."))


def _line_of(text: str, loc: tuple[str | int, ...]) -> int | None:
    """Best-effort line of the key at ``loc``: the deepest table header or key that leads to it."""
    want = tuple(part for part in loc if isinstance(part, str))
    table: tuple[str, ...] = ()
    best: tuple[int, int] | None = None  # (depth matched, line number)
    for number, line in enumerate(text.splitlines(), start=1):
        header = _TABLE_HEADER.match(line)
        if header:
            table = _split_key(header["name"])
            full = table
        elif key := _KEY_LINE.match(line):
            full = table + _split_key(key["key"])
        else:
            continue
        if full and want[: len(full)] == full and (best is None or len(full) > best[0]):
            best = (len(full), number)
    return best[1] if best else None


# --- teams against the questionnaire --------------------------------------------------------------


def check_routes(coordination: CoordinationConfig, questionnaire: Questionnaire) -> None:
    """Every route names a button question of the questionnaire and options it has: a typo
    would send every case to the default team without a word. Raises the first problem."""
    problems = route_problems(coordination, questionnaire)
    if problems:
        raise ConfigError(problems[0])


def route_problems(coordination: CoordinationConfig, questionnaire: Questionnaire) -> list[str]:
    """Each route that names a question or option the questionnaire lacks, one line each, with
    the ids it could have named."""
    from bot.intake.questionnaire import ROUTABLE_KINDS

    problems: list[str] = []
    routable = [q.id for q in questionnaire.questions if q.kind in ROUTABLE_KINDS]
    for index, team in enumerate(coordination.teams):
        for question_id, options in team.route.items():
            where = f"coordination.teams[{index}].route.{_shown(question_id)}"
            question = questionnaire.get(question_id)
            if question is None:
                problems.append(
                    f"{where}: no such question in the questionnaire; questions that can route: "
                    f"{', '.join(routable) or 'none'}"
                )
                continue
            if question.kind not in ROUTABLE_KINDS:
                problems.append(
                    f"{where}: a {question.kind.value} question cannot route; use a question"
                    f" answered with buttons (choice, multi or yesno): {', '.join(routable)}"
                )
                continue
            if not options:
                problems.append(f"{where}: list at least one option")
            valid = (
                ["yes", "no"]
                if question.kind.value == "yesno"
                else [option.id for option in question.options]
            )
            problems.extend(
                f"{where}: {_shown(option)!r} is not an option of it; its options: "
                f"{', '.join(valid)}"
                for option in options
                if option not in valid
            )
    return [str(ConfigError(line)) for line in problems]


# --- what ``run`` will need of the file system ---------------------------------------------------


def storage_problems(config: Config) -> list[str]:
    """What would stop the bot opening or writing its database, one line naming
    ``storage.database`` each: checked by ``check-config`` and before every command that opens
    the database, so a folder that is missing, read-only or not the bot user's is named as such
    rather than surfacing as SQLite's "unable to open database file"."""
    path = config.storage.database
    key = "storage.database" + (
        f" (from {config.secret_source('storage.database')})"
        if config.secret_source("storage.database")
        else ""
    )
    hint = "; in the container it is the data volume: /data/bot.sqlite3"
    folder = path.parent
    user = f"this user (uid {os.geteuid()})" if hasattr(os, "geteuid") else "this user"
    if path.is_dir():
        folder_line = f"{key}: {path} is a folder; name a file in it, e.g. {path / 'bot.sqlite3'}"
        return [str(ConfigError(folder_line))]
    # A missing folder is made at the first start, in the nearest folder that exists.
    existing = next(p for p in (folder, *folder.parents) if p.exists() or p == p.parent)
    made = "" if existing == folder else f"the folder {folder} does not exist and cannot be made: "
    problems: list[str] = []
    if not existing.is_dir():
        problems.append(f"{key}: {made}{existing} is not a folder; choose another path")
    elif _read_only(existing):
        problems.append(f"{key}: {made}{existing} is on a read-only file system{hint}")
    else:
        files = () if made else tuple(p for p in _database_files(path) if p.exists())
        problems.extend(
            f"{key}: {made}{target} is not writable by {user}; give it to that user "
            "(chown) or choose another path"
            for target in (existing, *files)
            if not _writable(target)
        )
    return [str(ConfigError(line)) for line in problems]


def _database_files(path: Path) -> tuple[Path, ...]:
    return tuple(Path(f"{path}{suffix}") for suffix in ("", "-wal", "-shm", "-journal"))


def _read_only(folder: Path) -> bool:
    try:
        return bool(os.statvfs(folder).f_flag & os.ST_RDONLY)
    except OSError:
        return False


def _writable(path: Path) -> bool:
    wanted = os.W_OK | (os.X_OK if path.is_dir() else 0)
    if os.access in os.supports_effective_ids:
        return os.access(path, wanted, effective_ids=True)
    return os.access(path, wanted)
