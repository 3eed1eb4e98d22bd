"""The key hierarchy: what opens, what must not, and what never shows in a repr."""

from __future__ import annotations

import base64
import os
import re
import struct
import threading
import time
import unicodedata

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.crypto import (
    ALPHABET,
    DEFAULT_COST,
    TEST_COST,
    Argon2Cost,
    CaseKey,
    ChatKey,
    CoordinatorKeys,
    CryptoError,
    DecryptionError,
    MasterKey,
    UnlockedKey,
    Vault,
    WrongPassphrase,
    canonical_code,
    change_passphrase,
    hash_secret,
    new_case_code,
    new_case_dropbox,
    new_receipt_secret,
    new_verification_phrase,
    open_case_dropbox,
    seal,
    seal_case_key,
    unlock,
    verify_secret,
    wrapped_key_id,
)
from bot.crypto._primitives import aead_seal, hkdf, pack
from bot.crypto.passphrase import derive_key

CLEAR = "ciphertext does not open under this key and context"

# One coordinator made once: Argon2 is cheap at TEST_COST but hypothesis runs many examples.
PASSPHRASE = "green river under the old bridge"
COORDINATOR = CoordinatorKeys.create(PASSPHRASE, cost=TEST_COST)
COORDINATOR_KEY = unlock(COORDINATOR.protected_private_key, PASSPHRASE)
OTHER_COORDINATOR_KEY = UnlockedKey.generate()

CASE_KEY = CaseKey.generate()
MASTER = MasterKey.generate()
VAULT = Vault(MASTER)

texts = st.text(max_size=40)
fuzz = settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow])


def flip(blob: bytes, index: int, delta: int) -> bytes:
    """``blob`` with one byte changed: ``delta`` is 1..255, so the byte always differs."""
    i = index % len(blob)
    return blob[:i] + bytes([blob[i] ^ delta]) + blob[i + 1 :]


def assert_clear(exc: pytest.ExceptionInfo[DecryptionError]) -> None:
    assert str(exc.value) == CLEAR
    # The library's InvalidTag must not ride along as the visible cause.
    assert exc.value.__cause__ is None
    assert exc.value.__context__ is None or exc.value.__suppress_context__


# -- case keys ---------------------------------------------------------------------------------


@fuzz
@given(plaintext=st.binary(max_size=2048), case_id=texts, field=texts)
def test_any_plaintext_round_trips_under_its_case_and_field(
    plaintext: bytes, case_id: str, field: str
) -> None:
    blob = CASE_KEY.encrypt(plaintext, case_id=case_id, field=field)
    assert CASE_KEY.decrypt(blob, case_id=case_id, field=field) == plaintext
    assert len(plaintext) < 16 or plaintext not in blob


def test_text_round_trips_including_burmese() -> None:
    text = "မင်္ဂလာပါ — name, unit, 1988"
    blob = CASE_KEY.encrypt_text(text, case_id="c1", field="name")
    assert CASE_KEY.decrypt_text(blob, case_id="c1", field="name") == text


def test_blobs_start_with_the_version_byte_and_never_repeat() -> None:
    first = CASE_KEY.encrypt(b"same", case_id="c1", field="f")
    second = CASE_KEY.encrypt(b"same", case_id="c1", field="f")
    assert first[0] == second[0] == 2  # padded
    assert first != second  # fresh nonce each time
    assert len(first) == 1 + 12 + 256 + 16


@pytest.mark.parametrize(
    ("part", "index"),
    [("version", 0), ("nonce", 1), ("nonce", 12), ("body", 13), ("tag", -16), ("tag", -1)],
)
def test_a_flipped_byte_in_any_part_of_a_field_blob_is_refused(part: str, index: int) -> None:
    blob = CASE_KEY.encrypt(b"unit 77, joined 2015", case_id="c1", field="unit")
    with pytest.raises(DecryptionError) as exc:
        CASE_KEY.decrypt(flip(blob, index, 0x01), case_id="c1", field="unit")
    assert_clear(exc)


@fuzz
@given(index=st.integers(min_value=0), delta=st.integers(min_value=1, max_value=255))
def test_any_single_byte_change_to_a_field_blob_is_refused(index: int, delta: int) -> None:
    blob = CASE_KEY.encrypt(b"answer", case_id="c1", field="f")
    with pytest.raises(DecryptionError) as exc:
        CASE_KEY.decrypt(flip(blob, index, delta), case_id="c1", field="f")
    assert_clear(exc)


@pytest.mark.parametrize(
    ("case_id", "field"),
    [("c2", "unit"), ("c1", "rank"), ("c1u", "nit"), ("c", "1unit"), ("", "c1unit")],
)
def test_a_blob_moved_to_another_case_or_field_is_refused(case_id: str, field: str) -> None:
    blob = CASE_KEY.encrypt(b"unit 77", case_id="c1", field="unit")
    with pytest.raises(DecryptionError) as exc:
        CASE_KEY.decrypt(blob, case_id=case_id, field=field)
    assert_clear(exc)


def test_another_case_key_is_refused() -> None:
    blob = CASE_KEY.encrypt(b"x", case_id="c1", field="f")
    with pytest.raises(DecryptionError) as exc:
        CaseKey.generate().decrypt(blob, case_id="c1", field="f")
    assert_clear(exc)


@pytest.mark.parametrize("blob", [b"", b"\x01", b"\x01" + bytes(27), b"\x02" + bytes(40)])
def test_short_or_unknown_blobs_are_refused(blob: bytes) -> None:
    with pytest.raises(DecryptionError) as exc:
        CASE_KEY.decrypt(blob, case_id="c1", field="f")
    assert str(exc.value) == CLEAR


def test_binary_opened_as_text_is_a_decryption_error_not_garbage() -> None:
    blob = CASE_KEY.encrypt(b"\xff\xfe", case_id="c1", field="f")
    with pytest.raises(DecryptionError):
        CASE_KEY.decrypt_text(blob, case_id="c1", field="f")


def test_a_destroyed_case_key_is_zeroed_and_refuses_work() -> None:
    key = CaseKey.generate()
    blob = key.encrypt(b"x", case_id="c1", field="f")
    key.destroy()
    assert key.destroyed
    assert key._raw == bytearray(32)
    assert repr(key) == "CaseKey(<destroyed>)"
    with pytest.raises(CryptoError):
        key.decrypt(blob, case_id="c1", field="f")
    with pytest.raises(CryptoError):
        VAULT.wrap_case_key(key, case_id="c1")


def test_case_key_rejects_a_wrong_length() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        CaseKey(b"short")


# -- the vault ---------------------------------------------------------------------------------


def test_a_wrapped_case_key_unwraps_to_the_same_key() -> None:
    blob = VAULT.wrap_case_key(CASE_KEY, case_id="c1")
    assert VAULT.unwrap_case_key(blob, case_id="c1") == CASE_KEY
    assert CASE_KEY._material() not in blob


def test_a_wrapped_case_key_moved_to_another_case_is_refused() -> None:
    blob = VAULT.wrap_case_key(CASE_KEY, case_id="c1")
    with pytest.raises(DecryptionError) as exc:
        VAULT.unwrap_case_key(blob, case_id="c2")
    assert_clear(exc)


def test_a_wrong_master_key_is_refused_and_named_by_key_id() -> None:
    blob = VAULT.wrap_case_key(CASE_KEY, case_id="c1")
    stranger = Vault(MasterKey.generate())
    with pytest.raises(DecryptionError) as exc:
        stranger.unwrap_case_key(blob, case_id="c1")
    assert str(exc.value) == (
        f"ciphertext was made under master key {MASTER.key_id}, which this vault does not hold"
    )
    with pytest.raises(DecryptionError):
        stranger.open_local(
            VAULT.seal_local(b"x", purpose="p", context="c"), purpose="p", context="c"
        )


def test_a_wrong_master_key_with_a_forged_key_id_is_still_refused() -> None:
    blob = VAULT.wrap_case_key(CASE_KEY, case_id="c1")
    stranger = MasterKey.generate()
    forged = blob[:1] + bytes.fromhex(stranger.key_id) + blob[9:]
    with pytest.raises(DecryptionError) as exc:
        Vault(stranger).unwrap_case_key(forged, case_id="c1")
    assert_clear(exc)


@fuzz
@given(index=st.integers(min_value=0), delta=st.integers(min_value=1, max_value=255))
def test_any_single_byte_change_to_a_vault_blob_is_refused(index: int, delta: int) -> None:
    wrapped = VAULT.wrap_case_key(CASE_KEY, case_id="c1")
    with pytest.raises(DecryptionError):
        VAULT.unwrap_case_key(flip(wrapped, index, delta), case_id="c1")
    local = VAULT.seal_local(b"urgent", purpose="triage", context="c1")
    with pytest.raises(DecryptionError):
        VAULT.open_local(flip(local, index, delta), purpose="triage", context="c1")


def test_key_ids_are_public_fingerprints() -> None:
    other = MasterKey.generate()
    assert re.fullmatch(r"[0-9a-f]{16}", MASTER.key_id)
    assert MASTER.key_id == MasterKey.from_text(MASTER.to_text()).key_id
    assert MASTER.key_id != other.key_id
    assert MASTER.key_id not in MASTER._raw.hex()
    assert VAULT.key_id == MASTER.key_id
    assert wrapped_key_id(VAULT.wrap_case_key(CASE_KEY, case_id="c1")) == MASTER.key_id
    assert wrapped_key_id(VAULT.seal_local(b"", purpose="p", context="c")) == MASTER.key_id
    with pytest.raises(DecryptionError):
        wrapped_key_id(b"\x01abc")


def test_rotation_opens_old_blobs_and_rewrap_moves_them_to_the_new_key() -> None:
    old, new = MasterKey.generate(), MasterKey.generate()
    key = CaseKey.generate()
    old_blob = Vault(old).wrap_case_key(key, case_id="c1")
    old_local = Vault(old).seal_local(b"msg 42", purpose="trace", context="chat")

    rotating = Vault(new, previous=[old])
    assert rotating.key_ids == {old.key_id, new.key_id}
    assert rotating.unwrap_case_key(old_blob, case_id="c1") == key
    assert rotating.open_local(old_local, purpose="trace", context="chat") == b"msg 42"

    new_blob = rotating.rewrap_case_key(old_blob, case_id="c1")
    new_local = rotating.reseal_local(old_local, purpose="trace", context="chat")
    assert wrapped_key_id(new_blob) == wrapped_key_id(new_local) == new.key_id

    after = Vault(new)
    assert after.unwrap_case_key(new_blob, case_id="c1") == key
    assert after.open_local(new_local, purpose="trace", context="chat") == b"msg 42"
    with pytest.raises(DecryptionError):
        after.unwrap_case_key(old_blob, case_id="c1")
    with pytest.raises(DecryptionError):
        Vault(old).unwrap_case_key(new_blob, case_id="c1")


def test_rewrap_refuses_a_blob_moved_to_another_case() -> None:
    blob = VAULT.wrap_case_key(CASE_KEY, case_id="c1")
    with pytest.raises(DecryptionError):
        VAULT.rewrap_case_key(blob, case_id="c2")


@fuzz
@given(plaintext=st.binary(max_size=256), purpose=texts, context=texts)
def test_local_seals_round_trip(plaintext: bytes, purpose: str, context: str) -> None:
    blob = VAULT.seal_local(plaintext, purpose=purpose, context=context)
    assert VAULT.open_local(blob, purpose=purpose, context=context) == plaintext


@pytest.mark.parametrize(("purpose", "context"), [("trace", "c1"), ("triage", "c2")])
def test_a_local_seal_opens_only_under_its_purpose_and_context(purpose: str, context: str) -> None:
    blob = VAULT.seal_local(b"urgent", purpose="triage", context="c1")
    with pytest.raises(DecryptionError) as exc:
        VAULT.open_local(blob, purpose=purpose, context=context)
    assert_clear(exc)


def test_a_wrapped_case_key_is_not_a_local_seal() -> None:
    blob = VAULT.wrap_case_key(CASE_KEY, case_id="c1")
    for purpose in ("wrap-case-key", "case-key", ""):
        with pytest.raises(DecryptionError):
            VAULT.open_local(blob, purpose=purpose, context="c1")


def test_pseudonyms_are_stable_per_user_and_differ_across_users_and_master_keys() -> None:
    user = 5_123_456_789
    first = VAULT.pseudonym(user)
    assert len(first) == 32
    assert VAULT.pseudonym(user) == first
    assert Vault(MasterKey.from_text(MASTER.to_text())).pseudonym(user) == first
    assert VAULT.pseudonym(user + 1) != first
    assert Vault(MasterKey.generate()).pseudonym(user) != first
    assert str(user).encode() not in first


def test_pseudonyms_during_rotation_list_the_current_one_first() -> None:
    old, new = MasterKey.generate(), MasterKey.generate()
    candidates = Vault(new, previous=[old, new]).pseudonyms(42)
    assert candidates == (Vault(new).pseudonym(42), Vault(old).pseudonym(42))


def test_pseudonym_wants_an_int() -> None:
    with pytest.raises(TypeError):
        VAULT.pseudonym("42")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        VAULT.pseudonym(True)


# -- sealing to public keys --------------------------------------------------------------------


def test_a_sealed_case_key_opens_with_the_matching_private_key_only() -> None:
    sealed = seal_case_key(CASE_KEY, COORDINATOR.public_key, case_id="c1")
    assert COORDINATOR_KEY.open_case_key(sealed, case_id="c1") == CASE_KEY
    with pytest.raises(DecryptionError) as exc:
        OTHER_COORDINATOR_KEY.open_case_key(sealed, case_id="c1")
    assert_clear(exc)


def test_a_sealed_case_key_moved_to_another_case_is_refused() -> None:
    sealed = seal_case_key(CASE_KEY, COORDINATOR.public_key, case_id="c1")
    with pytest.raises(DecryptionError) as exc:
        COORDINATOR_KEY.open_case_key(sealed, case_id="c2")
    assert_clear(exc)


def test_a_sealed_case_key_is_not_sealed_data_and_back() -> None:
    sealed_key = seal_case_key(CASE_KEY, COORDINATOR.public_key, case_id="c1")
    with pytest.raises(DecryptionError):
        COORDINATOR_KEY.open_sealed(sealed_key, context="c1")
    sealed_data = seal(CASE_KEY._material(), COORDINATOR.public_key, context="c1")
    with pytest.raises(DecryptionError):
        COORDINATOR_KEY.open_case_key(sealed_data, case_id="c1")


@fuzz
@given(plaintext=st.binary(max_size=1024), context=texts)
def test_sealed_data_round_trips(plaintext: bytes, context: str) -> None:
    blob = seal(plaintext, COORDINATOR.public_key, context=context)
    assert COORDINATOR_KEY.open_sealed(blob, context=context) == plaintext
    with pytest.raises(DecryptionError):
        COORDINATOR_KEY.open_sealed(blob, context=context + "x")


@fuzz
@given(index=st.integers(min_value=0), delta=st.integers(min_value=1, max_value=255))
def test_any_single_byte_change_to_a_sealed_blob_is_refused(index: int, delta: int) -> None:
    sealed = seal_case_key(CASE_KEY, COORDINATOR.public_key, case_id="c1")
    with pytest.raises(DecryptionError):
        COORDINATOR_KEY.open_case_key(flip(sealed, index, delta), case_id="c1")


def test_the_top_bit_of_the_ephemeral_key_is_bound_too() -> None:
    # X25519 ignores bit 255 of a public key; HPKE must still bind the bytes as sent.
    sealed = seal(b"x", COORDINATOR.public_key, context="c")
    with pytest.raises(DecryptionError):
        COORDINATOR_KEY.open_sealed(flip(sealed, 32, 0x80), context="c")


@pytest.mark.parametrize("public_key", [b"", bytes(31), bytes(33)])
def test_sealing_to_a_malformed_public_key_is_an_error(public_key: bytes) -> None:
    with pytest.raises(CryptoError, match="32 raw bytes"):
        seal(b"x", public_key, context="c")


def test_sealing_to_a_low_order_point_is_an_error() -> None:
    with pytest.raises(CryptoError, match="not a usable"):
        seal_case_key(CASE_KEY, bytes(32), case_id="c1")


def test_a_case_dropbox_lets_the_bot_add_what_only_a_case_key_holder_reads() -> None:
    dropbox = new_case_dropbox(CASE_KEY, case_id="c1")
    public, protected = dropbox
    assert len(public) == 32
    answer = seal("ဟုတ်ကဲ့".encode(), public, context="c1/answer/3")
    opened = open_case_dropbox(CASE_KEY, protected, case_id="c1")
    assert opened.public_key == public
    assert opened.open_sealed(answer, context="c1/answer/3") == "ဟုတ်ကဲ့".encode()
    with pytest.raises(DecryptionError):
        open_case_dropbox(CASE_KEY, protected, case_id="c2")
    with pytest.raises(DecryptionError):
        open_case_dropbox(CaseKey.generate(), protected, case_id="c1")


def test_a_field_cannot_pose_as_a_dropbox() -> None:
    dropbox = new_case_dropbox(CASE_KEY, case_id="c1")
    planted = CASE_KEY.encrypt(bytes(32), case_id="c1", field="dropbox-private-key")
    with pytest.raises(DecryptionError):
        open_case_dropbox(CASE_KEY, planted, case_id="c1")
    with pytest.raises(DecryptionError):
        CASE_KEY.decrypt(dropbox.protected_private_key, case_id="c1", field="")


# -- coordinator keys --------------------------------------------------------------------------


def test_unlock_gives_back_the_enrolled_key_pair() -> None:
    assert len(COORDINATOR.public_key) == 32
    assert COORDINATOR_KEY.public_key == COORDINATOR.public_key


def test_a_wrong_passphrase_is_refused() -> None:
    with pytest.raises(WrongPassphrase) as exc:
        unlock(COORDINATOR.protected_private_key, PASSPHRASE + " ")
    assert str(exc.value) == "the passphrase does not open this key"


def test_the_protected_key_records_its_cost_and_a_fresh_salt() -> None:
    again = CoordinatorKeys.create(PASSPHRASE, cost=TEST_COST)
    version, t, m, p = struct.unpack_from(">BIII", COORDINATOR.protected_private_key)
    assert (version, t, m, p) == (1, TEST_COST.iterations, TEST_COST.memory_kib, TEST_COST.lanes)
    assert COORDINATOR.protected_private_key[13:29] != again.protected_private_key[13:29]


@pytest.mark.parametrize("index", [13, 28, 29, 40, -1])  # salt, nonce, ciphertext, tag
def test_a_tampered_protected_key_does_not_unlock(index: int) -> None:
    tampered = flip(COORDINATOR.protected_private_key, index, 0x01)
    with pytest.raises(WrongPassphrase):
        unlock(tampered, PASSPHRASE)


@pytest.mark.parametrize(
    "header",
    [
        struct.pack(">BIII", 2, 1, 64, 1),  # unknown version
        struct.pack(">BIII", 1, 1, 2**31, 1),  # memory beyond the bound
        struct.pack(">BIII", 1, 10**6, 64, 1),  # iterations beyond the bound
        struct.pack(">BIII", 1, 1, 64, 0),  # no lanes
    ],
)
def test_an_unreadable_protected_key_is_a_decryption_error(header: bytes) -> None:
    blob = header + COORDINATOR.protected_private_key[len(header) :]
    with pytest.raises(DecryptionError):
        unlock(blob, PASSPHRASE)
    with pytest.raises(DecryptionError):
        unlock(b"\x01", PASSPHRASE)


def test_a_passphrase_is_the_same_in_composed_and_decomposed_form() -> None:
    composed = unicodedata.normalize("NFC", "café ဿ phrase")
    decomposed = unicodedata.normalize("NFD", composed)
    assert composed != decomposed
    keys = CoordinatorKeys.create(composed, cost=TEST_COST)
    assert unlock(keys.protected_private_key, decomposed).public_key == keys.public_key


def test_change_passphrase_keeps_the_key_pair() -> None:
    changed = change_passphrase(
        COORDINATOR.protected_private_key, PASSPHRASE, "new", cost=TEST_COST
    )
    assert unlock(changed, "new").public_key == COORDINATOR.public_key
    with pytest.raises(WrongPassphrase):
        unlock(changed, PASSPHRASE)
    with pytest.raises(WrongPassphrase):
        change_passphrase(COORDINATOR.protected_private_key, "wrong", "new", cost=TEST_COST)


def test_an_empty_passphrase_is_refused() -> None:
    with pytest.raises(ValueError, match="empty"):
        CoordinatorKeys.create("", cost=TEST_COST)


def test_the_real_default_cost_works_end_to_end() -> None:
    keys = CoordinatorKeys.create(PASSPHRASE)
    assert struct.unpack_from(">BIII", keys.protected_private_key)[1:] == (3, 65536, 4)
    assert unlock(keys.protected_private_key, PASSPHRASE).public_key == keys.public_key


# -- short secrets -----------------------------------------------------------------------------


def test_hash_secret_verifies_the_right_secret_only() -> None:
    encoded = hash_secret("K7QX-M3PA-9TRE", cost=TEST_COST)
    assert encoded.startswith("$argon2id$v=19$m=64,t=1,p=1$")
    assert "K7QX" not in encoded
    assert verify_secret("K7QX-M3PA-9TRE", encoded)
    assert not verify_secret("K7QX-M3PA-9TRF", encoded)
    assert not verify_secret("", encoded)
    assert hash_secret("K7QX-M3PA-9TRE", cost=TEST_COST) != encoded  # salted


def test_hash_secret_defaults_to_rfc_9106_cost() -> None:
    assert Argon2Cost(iterations=3, memory_kib=65536, lanes=4) == DEFAULT_COST
    encoded = hash_secret("abc")
    assert encoded.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert verify_secret("abc", encoded)


@pytest.mark.parametrize(
    "encoded",
    [
        "",
        "not a hash",
        "$argon2id$",
        "$argon2i$v=19$m=64,t=1,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g",
        "$argon2id$v=19$m=9999999999,t=1,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNo",
        "$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHRzYWx0c2FsdA$!!!!",
    ],
)
def test_verify_secret_is_false_for_malformed_hashes(encoded: str) -> None:
    assert not verify_secret("abc", encoded)


def test_verify_secret_is_false_for_a_truncated_real_hash() -> None:
    encoded = hash_secret("abc", cost=TEST_COST)
    assert not verify_secret("abc", encoded[:-4])


def test_argon2_cost_is_bounded() -> None:
    with pytest.raises(ValueError):
        Argon2Cost(iterations=0, memory_kib=64, lanes=1)
    with pytest.raises(ValueError):
        Argon2Cost(iterations=1, memory_kib=7, lanes=1)


# -- codes -------------------------------------------------------------------------------------


def test_the_alphabet_has_no_lookalikes() -> None:
    assert not set("0O1IL") & set(ALPHABET)
    assert len(set(ALPHABET)) == len(ALPHABET) == 31


def test_codes_use_only_the_alphabet_in_their_shapes() -> None:
    letters = re.escape(ALPHABET)
    for _ in range(200):
        assert re.fullmatch(f"[{letters}]{{4}}", new_case_code())
        assert re.fullmatch(
            f"[{letters}]{{4}}-[{letters}]{{4}}-[{letters}]{{4}}", new_receipt_secret()
        )
        assert re.fullmatch(r"\d{3} \d{3} \d{4}", new_verification_phrase())


def test_codes_are_random() -> None:
    assert len({new_receipt_secret() for _ in range(100)}) == 100
    assert len({new_verification_phrase() for _ in range(100)}) == 100
    assert len({new_case_code() for _ in range(100)}) > 90


def test_canonical_code_reads_back_what_a_person_typed() -> None:
    secret = new_receipt_secret()
    assert canonical_code(secret) == secret
    assert canonical_code(" " + secret.lower().replace("-", " ") + "\n") == secret
    code = new_case_code()
    assert canonical_code(code.lower()) == code
    assert canonical_code("k၇qx") == "K7QX"


def test_a_receipt_round_trip_through_canonical_form() -> None:
    secret = new_receipt_secret()
    encoded = hash_secret(secret, cost=TEST_COST)
    typed = secret.lower().replace("-", "  ")
    assert verify_secret(canonical_code(typed), encoded)


# -- nothing secret in a repr ------------------------------------------------------------------


def test_no_repr_or_str_shows_key_material() -> None:
    dropbox = new_case_dropbox(CASE_KEY, case_id="c1")
    unlocked = open_case_dropbox(CASE_KEY, dropbox.protected_private_key, case_id="c1")
    secrets_ = [
        MASTER._raw.hex(),
        MASTER.to_text(),
        CASE_KEY._material().hex(),
        COORDINATOR_KEY._private_bytes().hex(),
        COORDINATOR.protected_private_key.hex(),
        unlocked._private_bytes().hex(),
        dropbox.protected_private_key.hex(),
    ]
    objects: list[object] = [
        MASTER,
        CASE_KEY,
        VAULT,
        COORDINATOR,
        COORDINATOR_KEY,
        dropbox,
        unlocked,
        DecryptionError(),
    ]
    for obj in objects:
        for shown in (repr(obj), str(obj)):
            for secret in secrets_:
                assert secret[:16] not in shown
                assert secret[:16] not in shown.encode().hex()
            assert "\\x" not in shown
    assert "<hidden>" in repr(MASTER)
    assert "<hidden>" in repr(CASE_KEY)
    assert "<hidden>" in repr(COORDINATOR_KEY)


# -- the whole hierarchy -----------------------------------------------------------------------


def test_a_draft_becomes_a_case_only_coordinators_can_open() -> None:
    vault = Vault(MasterKey.generate())
    case_id = "case-0001"

    # Draft: the bot wraps the case key with the master key and reads answers back.
    key = CaseKey.generate()
    wrapped = vault.wrap_case_key(key, case_id=case_id)
    answer = key.encrypt_text("Ko Aung", case_id=case_id, field="name")
    draft_key = vault.unwrap_case_key(wrapped, case_id=case_id)
    assert draft_key.decrypt_text(answer, case_id=case_id, field="name") == "Ko Aung"

    # Submission: one sealed copy per coordinator; the wrapped copy is deleted by the store.
    team = [COORDINATOR, CoordinatorKeys.create("second", cost=TEST_COST)]
    sealed = {c.public_key: seal_case_key(key, c.public_key, case_id=case_id) for c in team}
    dropbox = new_case_dropbox(key, case_id=case_id)
    key.destroy()
    draft_key.destroy()

    # Later the bot can add an answer it cannot read back.
    reply = seal(b"yes", dropbox.public_key, context=f"{case_id}/reply/1")

    # A coordinator unlocks and reads everything.
    mine = COORDINATOR_KEY.open_case_key(sealed[COORDINATOR.public_key], case_id=case_id)
    assert mine.decrypt_text(answer, case_id=case_id, field="name") == "Ko Aung"
    box = open_case_dropbox(mine, dropbox.protected_private_key, case_id=case_id)
    assert box.open_sealed(reply, context=f"{case_id}/reply/1") == b"yes"


def test_argon2_from_many_threads_at_once_completes() -> None:
    """Submissions and unlocks run Argon2id in worker threads, several at once under load.
    With more than one lane, concurrent evaluations once deadlocked inside OpenSSL: every
    thread must finish, and each result must still verify."""
    cost = Argon2Cost(iterations=1, memory_kib=8192, lanes=4)
    key_cost = Argon2Cost(iterations=1, memory_kib=8192, lanes=2)
    encoded = hash_secret("K7QX-M3PA-9TRE", cost=cost)
    results: list[bool] = []

    def work(n: int) -> None:
        mine = hash_secret(f"secret-{n}", cost=cost)
        derive_key(f"passphrase-{n}", salt=bytes(16), cost=key_cost)
        results.append(
            verify_secret(f"secret-{n}", mine) and verify_secret("K7QX-M3PA-9TRE", encoded)
        )

    threads = [threading.Thread(target=work, args=(n,), daemon=True) for n in range(6)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 120  # a deadlock shows as a thread still alive, not slowness
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    assert not any(thread.is_alive() for thread in threads), "Argon2id deadlocked"
    assert results == [True] * 6


def test_a_master_keys_subkeys_are_derived_once_and_stay_the_same() -> None:
    """Kept subkeys must be exactly what HKDF gives, or old pseudonyms and blobs stop matching."""
    key = MasterKey.generate()
    text = key.to_text()
    raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    first = key.subkey("local", "trace")
    assert first == hkdf(raw, "local", "trace")
    assert key.subkey("local", "trace") is first
    assert key.subkey("local", "outbox") != first
    assert MasterKey(raw).subkey("local", "trace") == first
    assert Vault(key).pseudonym(42) == Vault(MasterKey(raw)).pseudonym(42)


@pytest.mark.skipif(not hasattr(os, "getpriority"), reason="no per-thread priorities here")
def test_argon2_runs_below_the_event_loops_priority() -> None:
    """A burst of submissions must not take the CPU from the loop that answers everyone."""
    seen: dict[str, int] = {}

    def submit() -> None:
        hash_secret("K7QX-M3PA-9TRE", cost=TEST_COST)
        seen["argon2"] = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    loop_priority = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    worker = threading.Thread(target=submit)
    worker.start()
    worker.join()
    assert seen["argon2"] > loop_priority or seen["argon2"] == 19
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == loop_priority


# --- the chat key ------------------------------------------------------------------------------


def test_a_chat_key_travels_as_a_short_token_and_comes_back_whole() -> None:
    key = ChatKey.generate()
    assert len(key.token) == 22  # fits beside a button's own data in 64 bytes
    back = ChatKey.from_token(key.token)
    assert back == key and back is not key
    assert back.row_name(5_912_345_601) == key.row_name(5_912_345_601)
    assert "hidden" in repr(key) and key.token not in repr(key)


@pytest.mark.parametrize("token", ["", "short", "A" * 21, "A" * 23, "!" * 22, "A" * 21 + "="])
def test_anything_that_is_not_a_token_names_no_key(token: str) -> None:
    assert ChatKey.from_token(token) is None


def test_a_chat_keys_row_is_named_by_the_account_too() -> None:
    """The same key from another account names another row: a key copied off a seized phone
    opens nothing from another account; and no two keys name the same account's row alike."""
    key, other = ChatKey.generate(), ChatKey.generate()
    assert key.row_name(1) != key.row_name(2)
    assert key.row_name(1) != other.row_name(1)
    assert len(key.row_name(1)) == 32


def test_a_chat_state_opens_only_under_its_key_row_and_field() -> None:
    key = ChatKey.generate()
    row = key.row_name(7)
    blob = key.seal(b"half a form", row=row, field="state")
    assert key.open(blob, row=row, field="state") == b"half a form"
    with pytest.raises(DecryptionError):
        ChatKey.generate().open(blob, row=row, field="state")
    with pytest.raises(DecryptionError):
        key.open(blob, row=key.row_name(8), field="state")
    with pytest.raises(DecryptionError):
        key.open(blob, row=row, field="other")
    with pytest.raises(DecryptionError):
        key.open(blob[:-1] + bytes([blob[-1] ^ 1]), row=row, field="state")


def test_field_lengths_say_nothing_of_the_choice_the_id_or_the_language() -> None:
    """A seizer without any key reads a blob's length: every short field seals alike."""
    values = [b'{"value":"police"}', b'{"value":"armed_forces","uncertain":false}', b"123456789"]
    values += [b"5912345601", b"en", b"my-zawgyi", b"482 915 7036"]
    lengths = {len(CASE_KEY.encrypt(v, case_id="c1", field="f")) for v in values}
    assert lengths == {1 + 12 + 256 + 16}
    assert len(CASE_KEY.encrypt(b"x" * 300, case_id="c1", field="f")) == 1 + 12 + 512 + 16


def test_a_field_sealed_before_fields_were_padded_still_opens() -> None:
    old = aead_seal(
        CASE_KEY._material(), b"old answer", header=bytes([1]), ad=pack("field", "c1", "f")
    )
    assert CASE_KEY.decrypt(old, case_id="c1", field="f") == b"old answer"


def test_a_chat_state_seals_at_the_same_length_whatever_it_holds() -> None:
    key = ChatKey.generate()
    row = key.row_name(7)
    short = key.seal(b'{"d":{"who":"self"}}', row=row, field="state")
    longer = key.seal(
        b'{"d":{"who":"parent","service":"armed_forces"}}' * 20, row=row, field="state"
    )
    assert len(short) == len(longer) == 1 + 12 + 4096 + 16
