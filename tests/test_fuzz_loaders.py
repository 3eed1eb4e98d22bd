"""The questionnaire and config loaders fed broken files.

An operator edits these files by hand, often on a server over a slow link. Whatever the file
holds (a half-saved copy, a typo, a pasted binary, a value of the wrong type, a number too big
for any field, arrays nested thousands deep), the loader must answer with one line naming the
problem, never with a traceback, and never with a secret taken from the environment.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.config import ConfigError, load_config
from bot.crypto import MasterKey, new_recovery_key
from bot.i18n import LANGUAGES, Catalog
from bot.intake import engine
from bot.intake.draft import Draft, Phase
from bot.intake.engine import Context
from bot.intake.questionnaire import (
    Questionnaire,
    QuestionnaireError,
    load_questionnaire,
    parse_questionnaire,
)

ROOT = Path(__file__).resolve().parent.parent
QUESTIONNAIRE_TOML = (ROOT / "bot" / "intake" / "questionnaire.toml").read_text(encoding="utf-8")
# The example filled in as an operator would: its placeholder group id is refused on purpose.
CONFIG_TOML = (
    (ROOT / "config.example.toml")
    .read_text(encoding="utf-8")
    .replace("group_chat_id = -1000000000000", "group_chat_id = -1001234567890")
)
QUESTIONNAIRE_LINES = QUESTIONNAIRE_TOML.splitlines()
CONFIG_LINES = CONFIG_TOML.splitlines()

TOKEN = "7012345678:FUZZtokenSECRETvalue_0123456789abcdef"
MASTER_TEXT = MasterKey.generate().to_text()
ENVIRON = {
    "BOT_TOKEN": TOKEN,
    "BOT_MASTER_KEY": MASTER_TEXT,
    "BOT_RECOVERY_PUBLIC_KEY": new_recovery_key()[1],
}
LANGS = list(LANGUAGES)
CATALOG = Catalog(LANGUAGES)

FUZZ = settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# Values an operator could plausibly write, and some no one should.
ODD_VALUES = (
    "",
    '""',
    "''",
    "true",
    "false",
    "0",
    "-1",
    "-9223372036854775809",
    "99999999999999999999999999",
    "1" + "0" * 5000,
    "0x" + "f" * 5000,
    "1e400",
    "-inf",
    "nan",
    "3.5",
    "1979-05-27",
    "07:32:00",
    "1979-05-27T07:32:00Z",
    "[]",
    "[1, 2, 3]",
    '["en", "en"]',
    '["xx"]',
    "{}",
    "{ a = 1 }",
    '"\\u0000"',
    '"\\uD800"',
    '"review"',
    '"' + "x" * 10_000 + '"',
    '"ျမန္မာ"',
    "[" * 3000 + "]" * 3000,
    "{ a = " * 1500 + "1" + " }" * 1500,
    "[[[[[[[[[[1]]]]]]]]]]",
    '"""',
    "'''",
    "= =",
    "[[question]]",
    "[meta]",
    "\x00",
    "\ufeff",
)

odd_value = st.one_of(
    st.sampled_from(ODD_VALUES),
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.text(max_size=30).map(lambda s: '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'),
)


@st.composite
def mutated(draw: st.DrawFn, lines: list[str]) -> str:
    """One line of a real file changed the way a slip of the hand or the disk might change it."""
    index = draw(st.integers(min_value=0, max_value=len(lines) - 1))
    line = lines[index]
    how = draw(st.sampled_from(("value", "delete", "duplicate", "cut", "insert", "key")))
    new: list[str]
    if how == "value" and "=" in line:
        key = line.split("=", 1)[0]
        new = [f"{key}= {draw(odd_value)}"]
    elif how == "delete":
        new = []
    elif how == "duplicate":
        new = [line, line]
    elif how == "cut":
        new = [line[: draw(st.integers(min_value=0, max_value=len(line)))]]
    elif how == "key":
        new = [line, f"{draw(st.from_regex(r'[a-z_]{1,12}', fullmatch=True))} = {draw(odd_value)}"]
    else:
        new = [line[:1] + draw(st.text(max_size=20)) + line[1:]]
    return "\n".join([*lines[:index], *new, *lines[index + 1 :]]) + "\n"


def truncated(text: str) -> st.SearchStrategy[str]:
    return st.integers(min_value=0, max_value=len(text)).map(lambda n: text[:n])


def questionnaire_texts() -> st.SearchStrategy[str]:
    return st.one_of(
        mutated(QUESTIONNAIRE_LINES),
        truncated(QUESTIONNAIRE_TOML),
        st.text(max_size=300),
        odd_value.map(
            lambda v: f"[meta]\nversion = {v}\nlanguages = ['en', 'my']\nstart = 'who'\n"
        ),
        odd_value.map(lambda v: QUESTIONNAIRE_TOML.replace('kind = "number"', f"kind = {v}", 1)),
        odd_value.map(lambda v: QUESTIONNAIRE_TOML.replace("max = 20", f"max = {v}", 1)),
    )


def config_texts() -> st.SearchStrategy[str]:
    return st.one_of(
        mutated(CONFIG_LINES),
        truncated(CONFIG_TOML),
        st.text(max_size=300),
        odd_value.map(lambda v: f"[intake]\nmax_text_length = {v}\n"),
        odd_value.map(lambda v: f"[coordination]\ngroup_chat_id = {v}\n"),
        odd_value.map(lambda v: f"telegram = {v}\n"),
        odd_value.map(lambda v: f"[security]\nprevious_master_key_files = {v}\n"),
    )


def assert_one_clean_line(message: str) -> None:
    assert message, "an error with no words helps no one"
    assert "\n" not in message and "\r" not in message, message
    assert "Traceback" not in message
    assert TOKEN not in message and TOKEN.split(":")[1] not in message
    assert MASTER_TEXT not in message


# --- the questionnaire ---


def _parse(text: str) -> None:
    try:
        questionnaire = parse_questionnaire(text, source="questionnaire.toml", languages=LANGS)
    except QuestionnaireError as exc:
        assert_one_clean_line(str(exc))
    else:
        assert_usable(questionnaire)


def assert_usable(questionnaire: Questionnaire) -> None:
    """A questionnaire the loader accepts is one the bot can ask: every question renders."""
    ctx = Context(questionnaire, CATALOG, LANGUAGES)
    for qid in questionnaire.ids:
        for lang in LANGUAGES:
            draft = Draft(language=lang, phase=Phase.QUESTION, step=qid, turn=1)
            reply = engine.prompt(ctx, draft)
            assert len(reply.text) <= 4096


@FUZZ
@given(questionnaire_texts())
def test_a_broken_questionnaire_gets_one_line(text: str) -> None:
    _parse(text)


@pytest.mark.parametrize(
    "text",
    [
        "x = " + "[" * 3000 + "]" * 3000,
        "x = " + "{ a = " * 1500 + "1" + " }" * 1500,
        "[meta]\nversion = 1" + "0" * 5000 + "\n",
        QUESTIONNAIRE_TOML.replace("max = 20", "max = 0x" + "f" * 5000, 1),
        QUESTIONNAIRE_TOML.replace("version = 1", "version = 0x" + "f" * 5000, 1),
        "[" + "a." * 5000 + "b]\n",
        "",
        "# only a comment\n",
        "version = 1\n",
    ],
    ids=[
        "deep-array",
        "deep-table",
        "huge-int",
        "huge-hex-max",
        "huge-hex-version",
        "deep-dotted-key",
        "empty",
        "only-a-comment",
        "no-tables",
    ],
)
def test_a_pathological_questionnaire_gets_one_line(text: str) -> None:
    with pytest.raises(QuestionnaireError) as caught:
        parse_questionnaire(text, source="questionnaire.toml", languages=LANGS)
    assert_one_clean_line(str(caught.value))


@FUZZ
@given(st.binary(max_size=300), st.integers(min_value=0, max_value=len(QUESTIONNAIRE_TOML)))
def test_a_questionnaire_file_of_any_bytes_gets_one_line(
    tmp_path_factory: pytest.TempPathFactory, junk: bytes, at: int
) -> None:
    path = tmp_path_factory.mktemp("q") / "questionnaire.toml"
    raw = QUESTIONNAIRE_TOML.encode("utf-8")
    cut = len(QUESTIONNAIRE_TOML[:at].encode("utf-8"))
    path.write_bytes(raw[:cut] + junk + raw[cut:])
    try:
        load_questionnaire(path, languages=LANGS)
    except QuestionnaireError as exc:
        assert_one_clean_line(str(exc))


def test_invalid_utf8_in_the_questionnaire_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "questionnaire.toml"
    path.write_bytes(b"[meta]\nversion = 1\n# \xff\xfe broken\n")
    with pytest.raises(QuestionnaireError) as caught:
        load_questionnaire(path, languages=LANGS)
    assert_one_clean_line(str(caught.value))
    assert ":3:" in str(caught.value)


def test_the_real_questionnaire_still_loads() -> None:
    """The mutations above start from a file that is itself valid."""
    parse_questionnaire(QUESTIONNAIRE_TOML, source="questionnaire.toml", languages=LANGS)


# --- the config ---


def _load(path: Path) -> None:
    try:
        config = load_config(path, ENVIRON)
    except ConfigError as exc:
        assert_one_clean_line(str(exc))
    else:  # what check-config prints must be printable, one line per key, without secrets
        for line in config.describe():
            assert_one_clean_line(line)


@FUZZ
@given(config_texts())
def test_a_broken_config_gets_one_line(tmp_path_factory: pytest.TempPathFactory, text: str) -> None:
    path = tmp_path_factory.mktemp("c") / "config.toml"
    path.write_text(text, encoding="utf-8")
    _load(path)


@FUZZ
@given(st.binary(max_size=300), st.integers(min_value=0, max_value=len(CONFIG_TOML)))
def test_a_config_file_of_any_bytes_gets_one_line(
    tmp_path_factory: pytest.TempPathFactory, junk: bytes, at: int
) -> None:
    path = tmp_path_factory.mktemp("c") / "config.toml"
    raw = CONFIG_TOML.encode("utf-8")
    cut = len(CONFIG_TOML[:at].encode("utf-8"))
    path.write_bytes(raw[:cut] + junk + raw[cut:])
    _load(path)


PATHOLOGICAL_CONFIGS = {
    "deep-array": "[intake]\nlanguages = " + "[" * 3000 + "]" * 3000 + "\n",
    "deep-table": "[intake]\nlanguages = " + "{ a = " * 1500 + "1" + " }" * 1500 + "\n",
    "huge-int": "[intake]\nmax_text_length = 1" + "0" * 5000 + "\n",
    "huge-hex": "[coordination]\ngroup_chat_id = 0x" + "f" * 5000 + "\n",
    "deep-dotted-key": "[" + "a." * 5000 + "b]\n",
    "secret-in-wrong-place": f'[telegram]\nbase_url = "https://x.example/bot{TOKEN}"\n',
    "token-as-table": "[telegram]\ntoken = { a = 1 }\n",
    "huge-hex-retention": (
        "[coordination]\ngroup_chat_id = -1001\n[retention]\nsubmitted_days = 0x" + "f" * 5000
    ),
}


@pytest.mark.parametrize("text", PATHOLOGICAL_CONFIGS.values(), ids=PATHOLOGICAL_CONFIGS.keys())
def test_a_pathological_config_gets_one_line(tmp_path: Path, text: str) -> None:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(path, ENVIRON)
    assert_one_clean_line(str(caught.value))


def test_the_example_config_still_loads(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(CONFIG_TOML, encoding="utf-8")
    load_config(path, ENVIRON)
    _load(path)


# --- the operator's command ---

CLI_CONFIGS = {
    "truncated": CONFIG_TOML[: CONFIG_TOML.index("[storage]") + 5],
    "wrong-type": CONFIG_TOML.replace("max_text_length = 1000", 'max_text_length = "1000"'),
    "huge-hex": CONFIG_TOML.replace("closed_days = 7", "closed_days = 0x" + "f" * 5000),
    "deep-array": CONFIG_TOML.replace(
        'languages = ["en", "my", "my-zawgyi"]', "languages = " + "[" * 3000 + "]" * 3000
    ),
    "bad-questionnaire": CONFIG_TOML.replace('questionnaire = ""', 'questionnaire = "broken.toml"'),
}


@pytest.mark.parametrize("name", CLI_CONFIGS)
def test_check_config_reports_one_line_and_exit_code_2(tmp_path: Path, name: str) -> None:
    path = tmp_path / "config.toml"
    path.write_text(CLI_CONFIGS[name], encoding="utf-8")
    (tmp_path / "broken.toml").write_text(
        QUESTIONNAIRE_TOML.replace("max = 20", "max = -5", 1), encoding="utf-8"
    )
    env = {key: value for key, value in os.environ.items() if not key.startswith("BOT_")}
    result = subprocess.run(
        [sys.executable, "-m", "bot", "check-config", "--config", str(path)],
        capture_output=True,
        text=True,
        env={**env, **ENVIRON},
        cwd=ROOT,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, lines
    assert_one_clean_line(lines[0])
    assert TOKEN not in result.stdout and MASTER_TEXT not in result.stdout
