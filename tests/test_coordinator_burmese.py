"""What a Burmese-reading coordinator reads: Burmese words, Burmese digits, and the audit head's
notice in the group in both languages."""

from __future__ import annotations

import re
import tomllib
from importlib import resources
from pathlib import Path

from bot.crypto import MasterKey, Vault
from bot.i18n import CoordinatorCatalog
from bot.ops.keycheck import ensure_master_key
from bot.services import audit
from bot.services.audit_head import head_notice
from bot.store import coordination as store
from tests.databases import opened

# Latin letters a Burmese text may keep: commands and placeholders, codes and handles, the
# language switch written for English readers, a typed example (a check-in's 12h, off), team
# ids and a vetting step's id (typed after /check as the config names it), and UTC.
_ALLOWED = re.compile(
    r"/(?:un)?check K7QX call\b|/[a-z_]+|\{[^}]*\}|\bC-[A-Z0-9]{4}\b|\b[A-Z0-9]{4}\b"
    r"|For English|\ben\b|\bmy\b|\babc\b|\bsouth\b|\bUTC\b|^English|\bverify-audit\b"
    r"|\b\d+[mhd]\b|\boff\b"
)
MYANMAR_DIGITS = re.compile(r"[\u1040-\u1049]")


def test_the_burmese_texts_hold_no_english_words() -> None:
    """`command`, `chat`, `HANDLE`, `audit log`, `group`, `operator`, `bot` were left in."""
    raw = resources.files("bot.i18n").joinpath("coordinator_my.toml").read_text("utf-8")
    left = {
        key: words
        for key, text in tomllib.loads(raw).items()
        if (words := re.findall(r"[A-Za-z]+", _ALLOWED.sub("", str(text))))
    }
    assert left == {}


def test_the_verification_number_is_in_the_readers_digits() -> None:
    texts = CoordinatorCatalog()
    burmese = texts.text("my", "handed_off", code="K7QX", phrase="482 915 7036")
    assert "၄၈၂ ၉၁၅ ၇၀၃၆" in burmese and "482" not in burmese
    assert "အတည်ပြုနံပါတ်" in burmese
    english = texts.text("en", "handed_off", code="K7QX", phrase="482 915 7036")
    assert "482 915 7036" in english and "verification number" in english


async def test_the_audit_head_notice_speaks_both_languages(tmp_path: Path) -> None:
    vault = Vault(MasterKey.generate())
    async with opened(tmp_path / "bot.sqlite3") as db:
        empty = await head_notice(db.conn)
        assert "Audit log empty" in empty and re.search(r"[\u1000-\u109f]", empty)
        await ensure_master_key(db, vault)
        for _ in range(12):
            async with db.transaction() as conn:
                await audit.record(
                    conn,
                    vault,
                    at=1_800_000_000,
                    actor="operator",
                    action="invited",
                    case_code=None,
                )
        seq, hash_hex = await store.audit_head(db.conn)
        notice = await head_notice(db.conn)
    first, second = notice.splitlines()
    assert seq == 12 and first == f"Audit head #12 {hash_hex}"
    assert "လုပ်ဆောင်ချက် မှတ်တမ်းရဲ့ ထိပ် #၁၂" in second
    assert "Keep this message (head #12)" in second
    assert second.endswith(f"python -m bot verify-audit --head 12:{hash_hex}")
