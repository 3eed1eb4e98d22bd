"""The config loader: every bad value is one line naming its key, and never a secret's value."""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path

import pytest
from pydantic import BaseModel, ValidationError

from bot.config import DEFAULT_VETTING_STEPS, Config, ConfigError, check_routes, load_config
from bot.crypto import new_recovery_key
from bot.crypto.keys import MasterKey
from bot.intake.questionnaire import load_questionnaire

EXAMPLE = Path(__file__).resolve().parents[1] / "config.example.toml"

# Canaries: if one of these ever shows up in an error or a summary, a secret has leaked.
TOKEN = "7012345678:CANARYtokenSECRETvalue_0123456789abcdef"
OTHER_TOKEN = "7012345679:OTHERtokenSECRETvalue_0123456789abcdefgh"
MASTER = MasterKey.generate()
MASTER_TEXT = MASTER.to_text()
WEBHOOK_SECRET = "CANARY-webhook-secret-0123456789"
RECOVERY_PUBLIC = new_recovery_key()[1]
RECOVERY_ENV = {"BOT_RECOVERY_PUBLIC_KEY": RECOVERY_PUBLIC}
# The example's group id is a placeholder the loader refuses; tests of the example set a real one
# the way an operator may, from the environment.
GROUP = "-1001234567890"

MINIMAL = """
[coordination]
group_chat_id = -1001234567890
"""


def example_env(**extra: str) -> dict[str, str]:
    """The environment for loading the example file as it is."""
    return env(BOT_GROUP_CHAT_ID=GROUP, **extra)


def env(**extra: str) -> dict[str, str]:
    base = {
        "BOT_TOKEN": TOKEN,
        "BOT_MASTER_KEY": MASTER_TEXT,
        "BOT_RECOVERY_PUBLIC_KEY": RECOVERY_PUBLIC,
    }
    base.update(extra)
    return {k: v for k, v in base.items() if v}


def write(folder: Path, text: str, name: str = "config.toml") -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def error_of(path: Path | None, environ: dict[str, str]) -> str:
    with pytest.raises(ConfigError) as caught:
        load_config(path, environ)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("config error: ")
    for secret in (TOKEN, OTHER_TOKEN, MASTER_TEXT, WEBHOOK_SECRET):
        assert secret not in message
    return message


# --- the example --------------------------------------------------------------------------------


def test_a_config_without_the_recovery_key_is_refused_naming_it() -> None:
    message = error_of(EXAMPLE, example_env(BOT_RECOVERY_PUBLIC_KEY=""))
    assert "security.recovery_public_key" in message and "recovery-keygen" in message


def test_example_loads_with_secrets_from_the_environment() -> None:
    config = load_config(EXAMPLE, example_env())
    assert config.telegram.token.get_secret_value() == TOKEN
    assert config.security.master_key == MASTER
    assert config.telegram.mode == "polling"
    assert config.telegram.base_url == "https://api.telegram.org/bot"
    assert config.telegram.webhook_secret is None
    assert config.coordination.group_chat_id < 0
    assert config.intake.languages == ("en", "my", "my-zawgyi")
    assert config.intake.questionnaire is None
    assert config.storage.database == EXAMPLE.parent / "data" / "bot.sqlite3"
    assert config.logging.level == "INFO"
    assert config.logging.format == "json"
    assert config.security.previous_master_keys == ()
    assert config.path == EXAMPLE


def test_example_sets_every_key_the_models_know() -> None:
    data = tomllib.loads(EXAMPLE.read_text(encoding="utf-8"))
    for section_name, field in Config.model_fields.items():
        model = field.annotation
        assert isinstance(model, type)
        assert issubclass(model, BaseModel)
        keys = set(model.model_fields)
        assert set(data[section_name]) == keys, section_name


def test_defaults_match_the_example() -> None:
    from_example = load_config(EXAMPLE, example_env())
    from_env = load_config(None, env(BOT_GROUP_CHAT_ID="-1001234567890"))
    for name in (
        "telegram",
        "security",
        "intake",
        "coordination",
        "retention",
        "vetting",
        "logging",
    ):
        assert getattr(from_example, name) == getattr(from_env, name), name


# --- required values ------------------------------------------------------------------------------


def test_missing_token_is_named() -> None:
    message = error_of(EXAMPLE, example_env(BOT_TOKEN=""))
    assert message == (
        "config error: telegram.token: missing; set BOT_TOKEN, BOT_TOKEN_FILE or "
        "telegram.token_file"
    )


def test_missing_master_key_is_named() -> None:
    message = error_of(EXAMPLE, example_env(BOT_MASTER_KEY=""))
    assert message == (
        "config error: security.master_key: missing; set BOT_MASTER_KEY, BOT_MASTER_KEY_FILE "
        "or security.master_key_file"
    )


def test_missing_group_chat_id_is_named(tmp_path: Path) -> None:
    message = error_of(write(tmp_path, "[telegram]\nmode = 'polling'\n"), env())
    assert message.startswith("config error: coordination.group_chat_id: missing")


def test_missing_group_chat_id_inside_its_section_is_named(tmp_path: Path) -> None:
    message = error_of(write(tmp_path, "[coordination]\ntwo_person_approval = true\n"), env())
    assert message.startswith("config error: coordination.group_chat_id: missing")


def test_no_file_uses_defaults_and_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    config = load_config(None, env(BOT_GROUP_CHAT_ID="-42"))
    assert config.coordination.group_chat_id == -42
    assert config.storage.database == tmp_path / "data" / "bot.sqlite3"
    assert config.path is None
    assert "coordination.group_chat_id: missing" in error_of(None, env())


def test_missing_config_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    assert error_of(missing, env()) == f"config error: config file not found: {missing}"


# --- malformed values -----------------------------------------------------------------------------

BAD_VALUES = [
    ("[telegram]\nbase_url = 'ftp://example.org/bot'", "telegram.base_url", "http"),
    ("[telegram]\nbase_url = 'api.telegram.org/bot'", "telegram.base_url", "http"),
    (f"[telegram]\nbase_url = 'https://api.telegram.org/bot{TOKEN}'", "telegram.base_url", "token"),
    ("[telegram]\nmode = 'push'", "telegram.mode", "'polling' or 'webhook'"),
    ("[telegram]\npoll_timeout_seconds = '30'", "telegram.poll_timeout_seconds", "whole number"),
    ("[telegram]\npoll_timeout_seconds = 0", "telegram.poll_timeout_seconds", "at least 1"),
    ("[telegram]\nwebhook_port = 70000", "telegram.webhook_port", "at most 65535"),
    ("[telegram]\nmode = 'webhook'", "telegram.webhook_url", "required"),
    (
        "[telegram]\nmode = 'webhook'\nwebhook_url = 'https://example.org/hook'",
        "telegram.webhook_secret",
        "BOT_WEBHOOK_SECRET",
    ),
    (
        "[telegram]\nmode = 'webhook'\nwebhook_secret = 'a-long-enough-secret-1234'\n"
        "webhook_url = 'http://example.org/hook'",
        "telegram.webhook_url",
        "https",
    ),
    ("[telegram]\nwebhook_url = 'ftp://example.org/hook'", "telegram.webhook_url", "http"),
    ("[intake]\nlanguages = ['en', 'fr']", "intake.languages", "unknown language 'fr'"),
    ("[intake]\nlanguages = []", "intake.languages", "at least one"),
    ("[intake]\nlanguages = ['en', 'en']", "intake.languages", "twice"),
    ("[intake]\nlanguages = 'en'", "intake.languages", "list"),
    ("[intake]\nlanguages = ['en', 3]", "intake.languages[1]", "string"),
    ("[intake]\ndraft_ttl_hours = 0", "intake.draft_ttl_hours", "at least 1"),
    ("[intake]\ndraft_ttl_hours = -5", "intake.draft_ttl_hours", "at least 1"),
    ("[intake]\ndraft_ttl_hours = 2161", "intake.draft_ttl_hours", "at most 2160"),
    ("[intake]\ndraft_ttl_hours = 1.5", "intake.draft_ttl_hours", "whole number"),
    ("[intake]\nmax_text_length = 9", "intake.max_text_length", "at least 10"),
    ("[intake]\nmax_text_length = 4001", "intake.max_text_length", "at most 4000"),
    ("[security]\nargon2_memory_kib = 8192", "security.argon2_memory_kib", "at least 65536"),
    ("[security]\nargon2_iterations = 1", "security.argon2_iterations", "at least 3"),
    ("[security]\nargon2_lanes = 1", "security.argon2_lanes", "at least 4"),
    ("[security]\nrecovery_public_key = 'abc'", "security.recovery_public_key", "recovery-keygen"),
    ("[retention]\noutbox_hours = 48", "retention.outbox_hours", "at most 24"),
    ("[coordination]\nunlock_max_hours = 0", "coordination.unlock_max_hours", "at least 1"),
    ("[retention]\nclosed_days = 0", "retention.closed_days", "at least 1"),
    ("[retention]\naudit_days = -1", "retention.audit_days", "at least 1"),
    ("[coordination]\ncase_view_ttl_seconds = 0", "coordination.case_view_ttl_seconds", "least"),
    ("[coordination]\ntwo_person_approval = 'yes'", "coordination.two_person_approval", "true"),
    ("[logging]\nlevel = 'LOUD'", "logging.level", "one of"),
    ("[logging]\nformat = 'xml'", "logging.format", "'json' or 'console'"),
    ("logging = 'json'", "logging", "table"),
    ("[storage]\ndatabase = 5", "storage.database", "path"),
]


@pytest.mark.parametrize(("snippet", "key", "reason"), BAD_VALUES)
def test_bad_value_is_one_line_naming_its_key(
    tmp_path: Path, snippet: str, key: str, reason: str
) -> None:
    if snippet.startswith("[coordination]"):
        text = snippet + "\ngroup_chat_id = -100123\n"
    else:
        text = snippet + "\n[coordination]\ngroup_chat_id = -100123\n"
    # The environment's recovery key would stand in for the file's.
    environ = env(BOT_RECOVERY_PUBLIC_KEY="") if "recovery" in snippet else env()
    message = error_of(write(tmp_path, text), environ)
    assert message.startswith(f"config error: {key}: "), message
    assert reason in message, message


@pytest.mark.parametrize("group", ["12345", "0"])
def test_positive_group_id_is_refused_without_printing_it(tmp_path: Path, group: str) -> None:
    message = error_of(write(tmp_path, f"[coordination]\ngroup_chat_id = {group}\n"), env())
    assert message.startswith("config error: coordination.group_chat_id: must be a negative group")
    assert "12345" not in message


@pytest.mark.parametrize("group", ["'-100123'", "true", "-1.5"])
def test_group_id_must_be_a_number(tmp_path: Path, group: str) -> None:
    message = error_of(write(tmp_path, f"[coordination]\ngroup_chat_id = {group}\n"), env())
    assert message.startswith("config error: coordination.group_chat_id: must be a whole number")


def test_unknown_key_names_the_key_and_the_line(tmp_path: Path) -> None:
    text = MINIMAL + "\n[intake]\n# where\ndraft_ttl_hours = 24\nlanguagez = ['en']\n"
    line = text.splitlines().index("languagez = ['en']") + 1
    message = error_of(write(tmp_path, text), env())
    assert message == (
        "config error: intake.languagez: unknown key; did you mean intake.languages? "
        f"(config.toml line {line})"
    )


def test_unknown_section_names_the_section_and_the_line(tmp_path: Path) -> None:
    message = error_of(write(tmp_path, MINIMAL + "\n[intak]\nlanguages = ['en']\n"), env())
    assert message == (
        "config error: unknown section [intak]; did you mean [intake]? (config.toml line 5)"
    )


def test_line_is_given_for_bad_values_too(tmp_path: Path) -> None:
    text = MINIMAL + "[intake]\nmax_text_length = 1\n"
    message = error_of(write(tmp_path, text), env())
    assert (
        message == "config error: intake.max_text_length: must be at least 10 (config.toml line 5)"
    )


def test_unknown_key_in_a_dotted_form_is_found(tmp_path: Path) -> None:
    message = error_of(write(tmp_path, "storage.size = 3\n" + MINIMAL), env())
    assert message == "config error: storage.size: unknown key (config.toml line 1)"


def test_a_misspelt_section_is_named_not_the_key_inside_it(tmp_path: Path) -> None:
    text = "[cordination]\ngroup_chat_id = -1001234567890\n"
    message = error_of(write(tmp_path, text), env())
    assert message == (
        "config error: unknown section [cordination]; did you mean [coordination]? "
        "(config.toml line 1)"
    )


def test_a_misspelt_key_gets_the_nearest_valid_name(tmp_path: Path) -> None:
    text = MINIMAL + "two_person_aproval = true\n"
    message = error_of(write(tmp_path, text), env())
    assert message == (
        "config error: coordination.two_person_aproval: unknown key; did you mean "
        "coordination.two_person_approval? (config.toml line 4)"
    )


def test_a_key_in_the_wrong_section_is_sent_to_its_own(tmp_path: Path) -> None:
    text = "[telegram]\ngroup_chat_id = -1001234567890\n"
    message = error_of(write(tmp_path, text), env())
    assert message == (
        "config error: telegram.group_chat_id: unknown key; it belongs under [coordination] "
        "(config.toml line 2)"
    )


def test_a_key_of_another_section_is_sent_there_before_any_near_spelling(tmp_path: Path) -> None:
    text = MINIMAL + "[telegram]\ndatabase = 'x.sqlite3'\n"
    message = error_of(write(tmp_path, text), env())
    assert message == (
        "config error: telegram.database: unknown key; it belongs under [storage] "
        "(config.toml line 5)"
    )


def test_a_key_before_any_section_is_sent_to_its_own(tmp_path: Path) -> None:
    message = error_of(write(tmp_path, "group_chat_id = -1001234567890\n"), env())
    assert message == (
        "config error: group_chat_id: unknown key outside any section; it belongs under "
        "[coordination] (config.toml line 1)"
    )


def test_a_section_far_from_any_name_lists_the_known_ones(tmp_path: Path) -> None:
    message = error_of(write(tmp_path, MINIMAL + "[xyz]\na = 1\n"), env())
    assert message.startswith("config error: unknown section [xyz]; known: telegram, storage, ")


def test_an_unknown_name_that_is_not_a_word_is_not_echoed(tmp_path: Path) -> None:
    text = MINIMAL + f'"{TOKEN}" = 1\n'
    message = error_of(write(tmp_path, text), env())
    assert TOKEN not in message and "7012345678" not in message
    assert message.startswith("config error: coordination.(a name that is not a plain word)")


def test_the_examples_placeholder_group_is_refused(tmp_path: Path) -> None:
    message = error_of(EXAMPLE, env())
    line = EXAMPLE.read_text().splitlines().index("group_chat_id = -1000000000000") + 1
    assert message == (
        "config error: coordination.group_chat_id: still the example's placeholder; replace it "
        f"with your coordinators' group id (config.example.toml line {line})"
    )
    # Wherever it comes from: the environment names it too.
    message = error_of(write(tmp_path, ""), env(BOT_GROUP_CHAT_ID="-1000000000000"))
    assert message.startswith("config error: coordination.group_chat_id: still the example's")


def test_toml_syntax_error_names_the_line(tmp_path: Path) -> None:
    text = "[telegram]\nmode = 'polling'\nbase_url = \n"
    message = error_of(write(tmp_path, text), env())
    assert message.startswith("config error: config.toml line 3: ")
    assert "(at line" not in message


def test_config_file_that_is_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_bytes(b"[telegram]\nmode = '\xff'\n")
    assert error_of(path, env()) == "config error: config.toml: not UTF-8 text"


# --- secrets --------------------------------------------------------------------------------------


def test_bad_token_is_refused_without_echoing_it(tmp_path: Path) -> None:
    canary = "CANARY-not-a-token-value"
    message = error_of(write(tmp_path, MINIMAL), env(BOT_TOKEN=canary))
    assert message.startswith("config error: telegram.token (from BOT_TOKEN): does not look like")
    assert canary not in message


def test_token_missing_its_secret_part_is_refused(tmp_path: Path) -> None:
    message = error_of(write(tmp_path, MINIMAL), env(BOT_TOKEN="123456:short"))
    assert message.startswith("config error: telegram.token")
    assert "short" not in message


@pytest.mark.parametrize(
    "bad",
    ["CANARYnotbase64!!!", "Q0FOQVJZc2hvcnQ", MASTER_TEXT + "QUJD"],
    ids=["not-base64", "too-short", "too-long"],
)
def test_bad_master_key_is_refused_without_echoing_it(tmp_path: Path, bad: str) -> None:
    message = error_of(write(tmp_path, MINIMAL), env(BOT_MASTER_KEY=bad))
    assert message.startswith("config error: security.master_key (from BOT_MASTER_KEY): ")
    assert bad not in message


def test_bad_master_key_in_a_file_names_the_file(tmp_path: Path) -> None:
    key_file = write(tmp_path, "CANARYnotakey\n", "master.key")
    text = MINIMAL + "[security]\nmaster_key_file = 'master.key'\n"
    message = error_of(write(tmp_path, text), env(BOT_MASTER_KEY=""))
    assert message.startswith(
        f"config error: security.master_key (from security.master_key_file {key_file}): "
    )
    assert "CANARYnotakey" not in message


def test_unreadable_key_file_names_the_key_and_the_path(tmp_path: Path) -> None:
    text = MINIMAL + "[security]\nmaster_key_file = 'secrets/master.key'\n"
    message = error_of(write(tmp_path, text), env(BOT_MASTER_KEY=""))
    missing = tmp_path / "secrets" / "master.key"
    assert message == (
        f"config error: security.master_key_file: cannot read {missing}: No such file or directory"
    )


def test_key_file_that_is_a_folder(tmp_path: Path) -> None:
    (tmp_path / "keys").mkdir()
    text = MINIMAL + "[security]\nmaster_key_file = 'keys'\n"
    message = error_of(write(tmp_path, text), env(BOT_MASTER_KEY=""))
    assert message.startswith(f"config error: security.master_key_file: cannot read {tmp_path}")


def test_empty_token_file(tmp_path: Path) -> None:
    write(tmp_path, "\n", "token")
    text = MINIMAL + "[telegram]\ntoken_file = 'token'\n"
    message = error_of(write(tmp_path, text), env(BOT_TOKEN=""))
    assert message == f"config error: telegram.token_file: {tmp_path / 'token'} is empty"


def test_unreadable_env_named_file_names_the_variable(tmp_path: Path) -> None:
    missing = tmp_path / "absent"
    message = error_of(write(tmp_path, MINIMAL), env(BOT_TOKEN="", BOT_TOKEN_FILE=str(missing)))
    assert (
        message == f"config error: BOT_TOKEN_FILE: cannot read {missing}: No such file or directory"
    )


def test_file_secrets_are_read_and_their_newline_stripped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "secrets").mkdir()
    write(tmp_path, TOKEN + "\n", "secrets/token")
    write(tmp_path, MASTER_TEXT + "\r\n", "secrets/master")
    write(tmp_path, WEBHOOK_SECRET + "\n", "secrets/hook")
    text = MINIMAL + (
        "[telegram]\ntoken_file = 'secrets/token'\nmode = 'webhook'\n"
        "webhook_url = 'https://example.org/hook'\nwebhook_secret_file = 'secrets/hook'\n"
        "[security]\nmaster_key_file = 'secrets/master'\n"
    )
    path = write(tmp_path, text)
    monkeypatch.chdir("/")  # relative to the config file, not to where the bot was started
    config = load_config(path, RECOVERY_ENV)
    assert config.telegram.token.get_secret_value() == TOKEN
    assert config.security.master_key == MASTER
    assert config.telegram.webhook_secret is not None
    assert config.telegram.webhook_secret.get_secret_value() == WEBHOOK_SECRET
    assert config.telegram.token_file == tmp_path / "secrets" / "token"
    assert config.secret_source("telegram.token") == (
        f"telegram.token_file {tmp_path / 'secrets' / 'token'}"
    )


def test_env_named_files_are_read(tmp_path: Path) -> None:
    token_file = write(tmp_path, TOKEN + "\n", "t")
    key_file = write(tmp_path, MASTER_TEXT + "\n", "k")
    config = load_config(
        write(tmp_path, MINIMAL),
        {"BOT_TOKEN_FILE": str(token_file), "BOT_MASTER_KEY_FILE": str(key_file), **RECOVERY_ENV},
    )
    assert config.telegram.token.get_secret_value() == TOKEN
    assert config.security.master_key == MASTER
    assert config.secret_source("security.master_key") == f"BOT_MASTER_KEY_FILE {key_file}"


def _token_layers(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """Four different tokens, one at each level of precedence."""
    tokens = [f"70000000{i}:{'T' * 30}layer{i}" for i in range(4)]
    write(tmp_path, tokens[1], "env_named")
    write(tmp_path, tokens[2], "config_named")
    text = MINIMAL + f"[telegram]\ntoken = '{tokens[3]}'\ntoken_file = 'config_named'\n"
    environ = {
        "BOT_TOKEN": tokens[0],
        "BOT_TOKEN_FILE": str(tmp_path / "env_named"),
        "BOT_MASTER_KEY": MASTER_TEXT,
        **RECOVERY_ENV,
    }
    return write(tmp_path, text), environ


def test_token_precedence(tmp_path: Path) -> None:
    path, environ = _token_layers(tmp_path)
    seen = []
    for drop in ("BOT_TOKEN", "BOT_TOKEN_FILE", None):
        config = load_config(path, environ)
        seen.append(config.telegram.token.get_secret_value()[-6:])
        if drop:
            del environ[drop]
    assert seen == ["layer0", "layer1", "layer2"]
    path.write_text(path.read_text().replace("token_file = 'config_named'\n", ""))
    assert load_config(path, environ).telegram.token.get_secret_value().endswith("layer3")


def test_environment_overrides_the_file(tmp_path: Path) -> None:
    other = MasterKey.generate()
    text = (
        MINIMAL + f"[telegram]\ntoken = '{OTHER_TOKEN}'\n[security]\nmaster_key = '{MASTER_TEXT}'\n"
    )
    config = load_config(
        write(tmp_path, text),
        {
            "BOT_TOKEN": TOKEN,
            "BOT_MASTER_KEY": other.to_text(),
            "BOT_GROUP_CHAT_ID": "-7",
            **RECOVERY_ENV,
        },
    )
    assert config.telegram.token.get_secret_value() == TOKEN
    assert config.security.master_key == other
    assert config.coordination.group_chat_id == -7
    assert config.secret_source("telegram.token") == "BOT_TOKEN"


def test_inline_secrets_still_work(tmp_path: Path) -> None:
    text = MINIMAL + f"[telegram]\ntoken = '{TOKEN}'\n[security]\nmaster_key = '{MASTER_TEXT}'\n"
    config = load_config(write(tmp_path, text), RECOVERY_ENV)
    assert config.telegram.token.get_secret_value() == TOKEN
    assert config.security.master_key == MASTER


def test_bad_group_id_in_the_environment(tmp_path: Path) -> None:
    message = error_of(write(tmp_path, MINIMAL), env(BOT_GROUP_CHAT_ID="group"))
    assert message.startswith("config error: coordination.group_chat_id (from BOT_GROUP_CHAT_ID)")


def test_webhook_secret_from_the_environment(tmp_path: Path) -> None:
    text = MINIMAL + "[telegram]\nmode = 'webhook'\nwebhook_url = 'https://example.org/h'\n"
    config = load_config(write(tmp_path, text), env(BOT_WEBHOOK_SECRET=WEBHOOK_SECRET))
    assert config.telegram.webhook_secret is not None
    assert config.telegram.webhook_secret.get_secret_value() == WEBHOOK_SECRET
    message = error_of(write(tmp_path, text), env(BOT_WEBHOOK_SECRET="short!"))
    assert message.startswith("config error: telegram.webhook_secret (from BOT_WEBHOOK_SECRET): ")


def test_previous_master_keys_are_loaded_for_rotation(tmp_path: Path) -> None:
    old = MasterKey.generate()
    write(tmp_path, old.to_text() + "\n", "old.key")
    text = MINIMAL + "[security]\nprevious_master_key_files = ['old.key']\n"
    config = load_config(write(tmp_path, text), env())
    assert config.security.previous_master_keys == (old,)
    assert config.security.previous_master_key_files == (tmp_path / "old.key",)


def test_bad_previous_master_key_names_its_index(tmp_path: Path) -> None:
    write(tmp_path, MASTER_TEXT, "good.key")
    write(tmp_path, "CANARYnotakey", "bad.key")
    text = MINIMAL + "[security]\nprevious_master_key_files = ['good.key', 'bad.key']\n"
    message = error_of(write(tmp_path, text), env())
    assert message.startswith("config error: security.previous_master_key_files[1]: ")
    assert "CANARYnotakey" not in message
    text = MINIMAL + "[security]\nprevious_master_key_files = ['gone.key']\n"
    message = error_of(write(tmp_path, text), env())
    assert message.startswith("config error: security.previous_master_key_files[0]: cannot read")


def test_no_message_ever_contains_a_secret(tmp_path: Path) -> None:
    """Secrets set everywhere at once, then one thing broken at a time."""
    write(tmp_path, TOKEN + "\n", "token")
    secrets_block = (
        f"[telegram]\ntoken = '{TOKEN}'\ntoken_file = 'token'\n"
        f"webhook_secret = '{WEBHOOK_SECRET}'\n"
        f"[security]\nmaster_key = '{MASTER_TEXT}'\n"
    )
    breakages = [
        "[intake]\nlanguagez = 1\n",
        "[intake]\ndraft_ttl_hours = 0\n",
        "[coordination]\ntwo_person_approval = 3\n",
        "[logging]\nlevel = 'LOUD'\n",
        "[storage]\ndatabase = []\n",
        "nonsense = = =\n",
    ]
    for broken in breakages:
        text = MINIMAL + secrets_block + broken
        error_of(write(tmp_path, text), env())  # asserts no canary in the message
        error_of(write(tmp_path, text), {})
    # A secret put into the wrong key is refused without being quoted back.
    text = MINIMAL + f"[telegram]\nmode = '{TOKEN}'\n"
    error_of(write(tmp_path, text), env())
    text = MINIMAL + f"[intake]\nlanguages = ['{MASTER_TEXT}']\n"
    assert "intake.languages" in error_of(write(tmp_path, text), env())


def test_describe_names_sources_not_values(tmp_path: Path) -> None:
    key_file = write(tmp_path, MASTER_TEXT + "\n", "k")
    config = load_config(
        write(tmp_path, MINIMAL),
        {"BOT_TOKEN": TOKEN, "BOT_MASTER_KEY_FILE": str(key_file), **RECOVERY_ENV},
    )
    summary = "\n".join(config.describe())
    assert "telegram.token: set (from BOT_TOKEN)" in summary
    assert f"security.master_key: set (from BOT_MASTER_KEY_FILE {key_file})" in summary
    assert "coordination.group_chat_id: set" in summary
    assert "intake.draft_ttl_hours: 168" in summary
    for secret in (TOKEN, MASTER_TEXT, "1001234567890"):
        assert secret not in summary
    assert TOKEN not in repr(config)
    assert MASTER_TEXT not in repr(config)


def test_config_is_frozen_and_closed() -> None:
    config = load_config(EXAMPLE, example_env())
    with pytest.raises(ValidationError):
        config.intake.draft_ttl_hours = 1
    with pytest.raises(ValidationError):
        Config.model_validate(
            {
                "telegram": {"token": TOKEN},
                "security": {"master_key": MASTER_TEXT, "recovery_public_key": RECOVERY_PUBLIC},
                "coordination": {"group_chat_id": -1},
                "extra": {},
            }
        )


def test_direct_construction_parses_the_master_key() -> None:
    config = Config.model_validate(
        {
            "telegram": {"token": TOKEN},
            "security": {"master_key": MASTER_TEXT, "recovery_public_key": RECOVERY_PUBLIC},
            "coordination": {"group_chat_id": -1},
        }
    )
    assert config.security.master_key == MASTER
    assert os.fspath(config.storage.database) == "data/bot.sqlite3"


# --- teams --------------------------------------------------------------------------------------

NORTH_ALONE = """
[[coordination.teams]]
name = "north"
default = true
"""
TEAM_NORTH = NORTH_ALONE + "group_chat_id = -1009876543210\n"
TEAM_SOUTH = """
[[coordination.teams]]
name = "south"
route = { region = ["mon", "tanintharyi"] }
group_chat_id = -1001234567000
"""


def test_teams_load_and_are_described_by_name_only(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, MINIMAL + TEAM_SOUTH + TEAM_NORTH), env())
    assert [t.name for t in config.coordination.teams] == ["south", "north"]
    described = "\n".join(config.describe())
    assert "coordination.teams: south, north (default)" in described
    for group in ("9876543210", "1234567000"):  # a group id is printed as present, never itself
        assert group not in described


@pytest.mark.parametrize(
    ("teams", "expected"),
    [
        (TEAM_SOUTH, "coordination.teams: exactly one team must have default = true"),
        (TEAM_SOUTH + TEAM_NORTH + TEAM_NORTH, "coordination.teams: two teams are named 'north'"),
        (
            TEAM_NORTH + TEAM_SOUTH.replace("south", "South Side"),
            "coordination.teams[1].name: must be 1-32 of a-z",
        ),
        (NORTH_ALONE + "group_chat_id = 5\n", "coordination.teams[0].group_chat_id: must be a neg"),
        (
            NORTH_ALONE + "group_chat_id = -1000000000000\n",
            "coordination.teams[0].group_chat_id: still the example's placeholder",
        ),
        (NORTH_ALONE + "rout = {}\n", "coordination.teams[0].rout: unknown key"),
        # With two teams, one without a group would post its notices where the other reads.
        (
            NORTH_ALONE + TEAM_SOUTH,
            "coordination.teams: team 'north' has no group_chat_id; with several teams each",
        ),
    ],
)
def test_a_bad_team_is_one_line_naming_it(tmp_path: Path, teams: str, expected: str) -> None:
    message = error_of(write(tmp_path, MINIMAL + teams), env())
    assert message.startswith(f"config error: {expected}"), message


@pytest.mark.parametrize(
    ("route", "expected"),
    [
        ('regoin = ["mon"]', "coordination.teams[0].route.regoin: no such question"),
        ('call_name = ["x"]', "coordination.teams[0].route.call_name: a text question cannot"),
        ('region = ["mars"]', "coordination.teams[0].route.region: 'mars' is not an option of it"),
        ("region = []", "coordination.teams[0].route.region: list at least one option"),
    ],
)
def test_a_route_is_checked_against_the_questionnaire(
    tmp_path: Path, route: str, expected: str
) -> None:
    """A route that names nothing would send every case to the default team without a word."""
    text = MINIMAL + TEAM_SOUTH.replace('region = ["mon", "tanintharyi"]', route) + TEAM_NORTH
    config = load_config(write(tmp_path, text), env())
    questionnaire = load_questionnaire(None, languages=list(config.intake.languages))
    with pytest.raises(ConfigError) as caught:
        check_routes(config.coordination, questionnaire)
    assert str(caught.value).startswith(f"config error: {expected}"), caught.value


# --- vetting steps --------------------------------------------------------------------------------


def _step(
    step_id: str = "call", text: str = 'en = "A call", my = "ဖုန်းပြောပြီး"', more: str = ""
) -> str:
    return f'[[vetting.steps]]\nid = "{step_id}"\ntext = {{ {text} }}\n{more}'


def test_without_a_vetting_section_the_examples_steps_apply(tmp_path: Path) -> None:
    """An upgraded deployment's config has no [vetting]: it gets the set the example ships."""
    config = load_config(write(tmp_path, MINIMAL), env())
    example = load_config(EXAMPLE, example_env())
    assert config.vetting == example.vetting
    assert config.vetting.steps == DEFAULT_VETTING_STEPS
    assert [s.id for s in config.vetting.steps if s.required] == ["call", "story", "number"]
    assert [s.id for s in config.vetting.steps if s.second_person] == ["second"]
    for step in config.vetting.steps:
        assert re.search(r"[\u1000-\u109f]", step.text["my"]), step.id
        assert not re.search(r"[A-Za-z]", step.text["my"]), step.id


def test_an_organisation_sets_its_own_steps_or_none(tmp_path: Path) -> None:
    text = MINIMAL + _step() + _step("elder", more="required = false\nsecond_person = true\n")
    steps = load_config(write(tmp_path, text), env()).vetting.steps
    assert [(s.id, s.required, s.second_person) for s in steps] == [
        ("call", True, False),
        ("elder", False, True),
    ]
    assert steps[0].text == {"en": "A call", "my": "ဖုန်းပြောပြီး"}
    none = load_config(write(tmp_path, MINIMAL + "[vetting]\nsteps = []\n"), env())
    assert none.vetting.steps == ()


@pytest.mark.parametrize(
    ("steps", "expected"),
    [
        (_step() + _step(), "vetting.steps: two steps have the id 'call'"),
        (_step() + _step("Call Me"), "vetting.steps[1].id: must be 1-32 of a-z, 0-9, _ and -"),
        (_step(text='en = "A call"'), "vetting.steps[0].text: missing my; give exactly en, my"),
        (
            _step(text='en = "A call", my = "ဖုန်း", fr = "Un appel"'),
            "vetting.steps[0].text: unknown language 'fr'; give exactly en, my",
        ),
        (_step(text='en = "", my = "ဖုန်း"'), "vetting.steps[0].text: en: one line of 1 to 200"),
        (_step(text='en = "a\\nb", my = "ဖုန်း"'), "vetting.steps[0].text: en: one line of 1 to 200"),
        (_step(more='required = "yes"\n'), "vetting.steps[0].required: must be true or false"),
        (_step(more="second_persn = true\n"), "vetting.steps[0].second_persn: unknown key"),
        ('[[vetting.steps]]\ntext = { en = "a", my = "ဖုန်း" }\n', "vetting.steps[0].id: missing"),
        ("[vetting]\nstep = []\n", "vetting.step: unknown key; did you mean vetting.steps?"),
        ("".join(_step(f"s{n}") for n in range(21)), "vetting.steps: at most 20 steps; found 21"),
    ],
)
def test_a_bad_step_is_one_line_naming_it(tmp_path: Path, steps: str, expected: str) -> None:
    message = error_of(write(tmp_path, MINIMAL + steps), env())
    assert message.startswith(f"config error: {expected}"), message
