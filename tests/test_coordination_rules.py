"""The pure coordination rules: case states, the access table, two-person approval, the audit
chain, the passphrase policy and the queue. No Telegram, no database, no keys, no clock."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import itertools
import unicodedata
from collections.abc import Callable
from difflib import SequenceMatcher

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.coordination import (
    AUDIT_ACTIONS,
    COORDINATOR_COMMANDS,
    GENESIS,
    LEAD_ONLY,
    MIN_LENGTH,
    OPEN_STATES,
    PERMISSIONS,
    TRANSITIONS,
    Action,
    ApprovalRefused,
    AuditEntry,
    CaseState,
    Denied,
    IllegalTransition,
    QueueItem,
    allowed_actions,
    approve,
    commands_for,
    decide,
    entry_payload,
    format_waiting,
    notice_text,
    order,
    passphrase_problem,
    priority,
    queue_lines,
    relation_of,
    seal_entry,
    transition,
    verify_chain,
)
from bot.coordination.passphrase import REASONS
from bot.coordination.probes import (
    TEXT_COMPARED,
    CaseAnswers,
    Closeness,
    _fold,
    _texts_alike,
    bursts,
    closest,
    compare,
    is_close,
    text_readings,
)
from bot.coordination.vetting import (
    Done,
    Latest,
    Mark,
    Refusal,
    Step,
    StepRefused,
    check,
    latest,
    missing,
    progress,
    uncheck,
)
from bot.services.case_view import MESSAGE_LIMIT, message_pieces
from bot.text import check_first_line, zawgyi_to_unicode

S, A = CaseState, Action

# -- case states ------------------------------------------------------------------------------

# Written out from the coordination design, not read from the code under test.
LEGAL: dict[tuple[CaseState, Action], CaseState] = {
    (S.SUBMITTED, A.CLAIM): S.CLAIMED,
    (S.CLAIMED, A.RELEASE): S.SUBMITTED,
    (S.CLAIMED, A.REASSIGN): S.CLAIMED,
    (S.CLAIMED, A.APPROVE): S.APPROVED,
    (S.CLAIMED, A.REJECT): S.REJECTED,
    (S.APPROVED, A.REJECT): S.REJECTED,  # before the handoff, an approval can be stopped
    (S.APPROVED, A.HANDOFF): S.HANDED_OFF,
    (S.HANDED_OFF, A.CLOSE): S.CLOSED,
    (S.REJECTED, A.CLOSE): S.CLOSED,
}
ALL_PAIRS = list(itertools.product(CaseState, Action))
ILLEGAL = [pair for pair in ALL_PAIRS if pair not in LEGAL]
DONE = {
    A.CLAIM: "claimed",
    A.RELEASE: "released",
    A.REASSIGN: "reassigned",
    A.APPROVE: "approved",
    A.REJECT: "rejected",
    A.HANDOFF: "handed off",
    A.CLOSE: "closed",
}


def test_enum_values_are_the_stored_words() -> None:
    assert [s.value for s in CaseState] == [
        "submitted",
        "claimed",
        "approved",
        "rejected",
        "handed_off",
        "closed",
    ]
    assert {a.value for a in Action} == {a.name.lower() for a in Action}


def test_the_table_is_exactly_the_designed_graph() -> None:
    assert dict(TRANSITIONS) == LEGAL
    assert len(ILLEGAL) == len(ALL_PAIRS) - len(LEGAL) == 6 * 7 - 9


@pytest.mark.parametrize(("state", "action"), list(LEGAL))
def test_every_legal_move(state: CaseState, action: Action) -> None:
    assert transition(state, action) is LEGAL[(state, action)]
    assert action in allowed_actions(state)


@pytest.mark.parametrize(("state", "action"), ILLEGAL)
def test_every_illegal_move_is_refused_clearly(state: CaseState, action: Action) -> None:
    with pytest.raises(IllegalTransition) as caught:
        transition(state, action)
    assert caught.value.state is state
    assert caught.value.action is action
    word = state.value.replace("_", " ")
    assert str(caught.value) == f"case is {word}; it cannot be {DONE[action]}"
    assert action not in allowed_actions(state)


def test_the_example_message() -> None:
    with pytest.raises(IllegalTransition, match=r"^case is approved; it cannot be claimed$"):
        transition(S.APPROVED, A.CLAIM)


def test_closed_is_final_and_open_states_are_the_queue() -> None:
    assert allowed_actions(S.CLOSED) == frozenset()
    assert frozenset({S.SUBMITTED, S.CLAIMED, S.APPROVED}) == OPEN_STATES


def _reachable_from_submitted() -> set[CaseState]:
    seen, frontier = {S.SUBMITTED}, [S.SUBMITTED]
    while frontier:
        here = frontier.pop()
        for (source, _action), target in LEGAL.items():
            if source is here and target not in seen:
                seen.add(target)
                frontier.append(target)
    return seen


@given(st.lists(st.sampled_from(list(Action)), max_size=40))
def test_any_sequence_of_actions_stays_on_the_graph(actions: list[Action]) -> None:
    reachable = _reachable_from_submitted()
    state = S.SUBMITTED
    for action in actions:
        try:
            after = transition(state, action)
        except IllegalTransition:
            assert (state, action) not in LEGAL
            continue
        assert after is LEGAL[(state, action)]
        assert after in reachable
        state = after


# -- the access table -------------------------------------------------------------------------

# From the command table in the coordination design. Per command: the relations a coordinator
# may act in (None: coordinators may not run it at all), the same for a lead, private chat only,
# needs an unlocked key. "any" = assignee, other, unclaimed; commands without a case use "none".
ANY = "assignee other unclaimed"
EXPECTED: dict[str, tuple[str | None, str, bool, bool]] = {
    "queue": ("none", "none", False, False),
    "stats": ("none", "none", False, False),
    "claim": ("unclaimed", "unclaimed", False, True),
    "release": ("assignee", "assignee other", False, True),
    "reassign": ("assignee", "assignee other", False, True),
    "show": ("assignee", ANY, True, True),
    "note": ("assignee", ANY, True, True),
    "ask": ("assignee", "assignee", True, True),
    # A vetting step: the holder's (or a lead's), or a second coordinator's where the step says
    # so; which step is whose is the vetting rules' (the CHECKS table below).
    "check": ("assignee other", "assignee other", True, True),
    "uncheck": ("assignee other", "assignee other", True, True),
    "flag": (ANY, ANY, False, True),
    "approve": ("assignee other", "assignee other", False, True),
    "reject": ("assignee", ANY, True, True),
    "handoff": ("assignee", "assignee", True, True),
    "checkin": ("assignee", "assignee", True, True),
    "close": ("assignee", ANY, False, True),
    "purge": (None, ANY, True, True),  # destructive: a stolen lead's phone must not shred
    "grant": (None, "none", True, True),
    "revoke": (None, "none", True, True),
    "transfer": (None, ANY, True, True),  # reseals a case to another team
    "audit": (None, "none", True, False),
    "unlock": ("none", "none", True, False),
    "lock": ("none", "none", False, False),
    "language": ("none", "none", False, False),
    "help": ("none", "none", False, False),
}
ROLES_TRIED: tuple[str | None, ...] = (None, "coordinator", "lead")
RELATIONS = ("assignee", "other", "unclaimed", "none", "outside")
MADE_UP = ("start", "admin", "debug", "export", "sql", "", "/claim", "CLAIM", "queue@bot", "purge ")


def expected_decision(
    command: str, role: str | None, relation: str, private: bool, unlocked: bool
) -> Denied | None:
    if role is None or command not in EXPECTED:
        return Denied.UNKNOWN
    if relation == "outside":  # another team's case: as if its code named nothing
        return Denied.NO_CASE
    coordinator, lead, private_only, needs_unlock = EXPECTED[command]
    allowed = coordinator if role == "coordinator" else lead
    if allowed is None:
        return Denied.ROLE
    if private_only and not private:
        return Denied.PRIVATE_ONLY
    if relation not in allowed.split():
        return Denied.RELATION
    if needs_unlock and not unlocked:
        return Denied.LOCKED
    return None


GRID = list(itertools.product(EXPECTED, ROLES_TRIED, RELATIONS, (True, False), (True, False)))


@pytest.mark.parametrize(("command", "role", "relation", "private", "unlocked"), GRID)
def test_access_table(
    command: str, role: str | None, relation: str, private: bool, unlocked: bool
) -> None:
    got = decide(command, role, relation, private_chat=private, unlocked=unlocked)
    assert got == expected_decision(command, role, relation, private, unlocked)


def test_the_grid_covers_every_allowed_and_every_refusal() -> None:
    outcomes = {decide(c, r, rel, private_chat=p, unlocked=u) for c, r, rel, p, u in GRID}
    assert outcomes == {None, *Denied}


@pytest.mark.parametrize("command", [*EXPECTED, *MADE_UP])
@pytest.mark.parametrize("role", [None, "revoked", "", "operator", "Lead", "applicant"])
def test_no_role_always_looks_like_an_unknown_command(command: str, role: str | None) -> None:
    for relation, private, unlocked in itertools.product(RELATIONS, (True, False), (True, False)):
        got = decide(command, role, relation, private_chat=private, unlocked=unlocked)
        assert got is Denied.UNKNOWN


@pytest.mark.parametrize("command", MADE_UP)
@pytest.mark.parametrize("role", ["coordinator", "lead"])
def test_a_made_up_command_is_unknown_to_coordinators_too(command: str, role: str) -> None:
    assert decide(command, role, "none", private_chat=True, unlocked=True) is Denied.UNKNOWN


@pytest.mark.parametrize(
    ("command", "role", "relation", "private", "unlocked", "want"),
    [
        ("show", "coordinator", "assignee", True, True, None),
        ("show", "coordinator", "other", True, True, Denied.RELATION),
        ("show", "lead", "other", True, True, None),
        ("show", "coordinator", "assignee", False, True, Denied.PRIVATE_ONLY),
        ("show", "coordinator", "assignee", True, False, Denied.LOCKED),
        # A group never learns who holds a case: the private-chat refusal comes first.
        ("show", "coordinator", "other", False, False, Denied.PRIVATE_ONLY),
        ("ask", "lead", "other", True, True, Denied.RELATION),
        ("handoff", "lead", "other", True, True, Denied.RELATION),
        ("claim", "coordinator", "other", False, False, Denied.RELATION),
        ("claim", "coordinator", "unclaimed", False, True, None),
        # A stolen phone whose key is locked decides nothing, in a group or in private.
        ("claim", "coordinator", "unclaimed", False, False, Denied.LOCKED),
        ("approve", "coordinator", "assignee", False, False, Denied.LOCKED),
        ("flag", "coordinator", "other", False, False, Denied.LOCKED),
        ("close", "lead", "other", False, False, Denied.LOCKED),
        ("release", "lead", "other", False, True, None),
        ("release", "lead", "other", False, False, Denied.LOCKED),
        ("reassign", "coordinator", "assignee", False, False, Denied.LOCKED),
        ("release", "coordinator", "other", False, False, Denied.RELATION),
        ("approve", "coordinator", "other", False, True, None),
        ("approve", "coordinator", "unclaimed", False, False, Denied.RELATION),
        ("purge", "coordinator", "assignee", True, True, Denied.ROLE),
        ("purge", "lead", "unclaimed", True, False, Denied.LOCKED),
        ("purge", "lead", "unclaimed", True, True, None),
        ("revoke", "lead", "none", True, False, Denied.LOCKED),
        ("grant", "lead", "none", True, False, Denied.LOCKED),
        ("queue", "coordinator", "none", False, False, None),
        ("queue", "coordinator", "assignee", False, False, Denied.RELATION),
        ("unlock", "coordinator", "none", False, False, Denied.PRIVATE_ONLY),
        ("lock", "coordinator", "none", False, False, None),
        ("purge", None, "assignee", True, True, Denied.UNKNOWN),
        # Another team's case does not exist for this person, whatever else holds.
        ("show", "lead", "outside", True, True, Denied.NO_CASE),
        ("purge", "coordinator", "outside", False, False, Denied.NO_CASE),
        ("claim", "coordinator", "outside", False, False, Denied.NO_CASE),
        ("transfer", "coordinator", "assignee", True, True, Denied.ROLE),
        ("transfer", "lead", "other", True, False, Denied.LOCKED),
        ("transfer", "lead", "unclaimed", False, True, Denied.PRIVATE_ONLY),
        ("transfer", "lead", "other", True, True, None),
    ],
)
def test_spot_checks_read_from_the_design(
    command: str,
    role: str | None,
    relation: str,
    private: bool,
    unlocked: bool,
    want: Denied | None,
) -> None:
    assert decide(command, role, relation, private_chat=private, unlocked=unlocked) == want


def test_the_table_rows_describe_themselves() -> None:
    assert set(PERMISSIONS) == set(EXPECTED)
    for name, (coordinator, _lead, private_only, needs_unlock) in EXPECTED.items():
        rule = PERMISSIONS[name]
        assert rule.private_only is private_only, name
        assert rule.needs_unlock is needs_unlock, name
        assert rule.takes_case is (name not in {n for n, e in EXPECTED.items() if e[1] == "none"})
        assert ("coordinator" in rule.roles) is (coordinator is not None), name
        assert "lead" in rule.roles, name


def test_menus() -> None:
    assert sorted(COORDINATOR_COMMANDS) == sorted(EXPECTED)
    assert len(set(COORDINATOR_COMMANDS)) == len(COORDINATOR_COMMANDS)
    assert {"purge", "grant", "revoke", "audit", "transfer"} == LEAD_ONLY
    assert commands_for(None) == ()
    assert commands_for("revoked") == ()
    assert set(commands_for("coordinator")) == set(EXPECTED) - LEAD_ONLY
    assert commands_for("lead") == COORDINATOR_COMMANDS


def test_relation_of() -> None:
    assert relation_of("c1", "c1") == "assignee"
    assert relation_of("c1", "c2") == "other"
    assert relation_of("c1", None) == "unclaimed"
    assert relation_of("c1", "c1", in_team=False) == "outside"
    assert relation_of("c1", None, in_team=False) == "outside"


# -- two-person approval ----------------------------------------------------------------------


def test_single_approval_by_the_assignee_completes() -> None:
    got = approve(actor_id="a", assignee_id="a", pending_by=None, two_person=False, flagged=False)
    assert got.complete is True
    assert got.first_approver == "a"


def test_single_approval_by_anyone_else_is_refused() -> None:
    for assignee in ("a", None):
        with pytest.raises(ApprovalRefused, match="claimed"):
            approve(
                actor_id="b", assignee_id=assignee, pending_by=None, two_person=False, flagged=False
            )


@pytest.mark.parametrize(("two_person", "flagged"), [(True, False), (False, True), (True, True)])
def test_two_person_approval(two_person: bool, flagged: bool) -> None:
    first = approve(
        actor_id="a", assignee_id="a", pending_by=None, two_person=two_person, flagged=flagged
    )
    assert first.complete is False
    assert first.first_approver == "a"

    with pytest.raises(ApprovalRefused) as again:
        approve(
            actor_id="a", assignee_id="a", pending_by="a", two_person=two_person, flagged=flagged
        )
    assert str(again.value) == "you approved this case already; a second coordinator must confirm"

    second = approve(
        actor_id="b", assignee_id="a", pending_by="a", two_person=two_person, flagged=flagged
    )
    assert second.complete is True
    assert second.first_approver == "a"


@pytest.mark.parametrize(("two_person", "flagged"), [(True, False), (False, True)])
def test_the_first_of_two_approvals_must_come_from_the_assignee(
    two_person: bool, flagged: bool
) -> None:
    with pytest.raises(ApprovalRefused) as caught:
        approve(
            actor_id="b", assignee_id="a", pending_by=None, two_person=two_person, flagged=flagged
        )
    assert "\n" not in str(caught.value)
    assert str(caught.value)


# -- the audit chain --------------------------------------------------------------------------

KEY = b"k" * 32
ACTIONS_CYCLE = ("claimed", "shown", "noted", "asked", "answered", "approval_pending", "approved")


def mac_with(key: bytes) -> Callable[[bytes], bytes]:
    return lambda data: hmac.new(key, data, hashlib.sha256).digest()


MAC = mac_with(KEY)


def make_chain(count: int = 20, mac: Callable[[bytes], bytes] = MAC) -> list[AuditEntry]:
    entries: list[AuditEntry] = []
    prev = GENESIS
    for seq in range(1, count + 1):
        entry = seal_entry(
            seq=seq,
            at=1_700_000_000 + 60 * seq,
            actor=f"C-{seq:04d}",
            action=ACTIONS_CYCLE[seq % len(ACTIONS_CYCLE)],
            case_code="K7QX" if seq % 3 else None,
            prev_hash=prev,
            mac=mac,
        )
        entries.append(entry)
        prev = entry.hash
    return entries


def assert_broken_at(
    entries: list[AuditEntry],
    seq: int,
    *words: str,
    start: tuple[int, str] | None = None,
    head: tuple[int, str] | None = None,
) -> None:
    report = verify_chain(entries, MAC, start=start, head=head)
    assert report.ok is False
    assert report.seq == seq
    assert report.problem is not None
    assert str(seq) in report.problem
    assert "\n" not in report.problem
    for word in words:
        assert word in report.problem


def test_a_valid_chain_verifies() -> None:
    chain = make_chain()
    report = verify_chain(chain, MAC)
    assert report.ok is True
    assert report.checked == 20
    assert report.problem is None
    assert report.seq is None
    assert chain[0].prev_hash == GENESIS
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(chain))
    assert verify_chain(chain, MAC, head=(20, chain[-1].hash)).ok is True


def test_an_empty_log_verifies() -> None:
    assert verify_chain([], MAC).ok is True
    assert verify_chain([], MAC, head=(0, GENESIS)).ok is True


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("at", 1),
        ("actor", "C-EVIL"),
        ("action", "rejected"),
        ("case_code", "ZZZZ"),
        ("case_code", None),
    ],
)
def test_an_edited_entry_is_found(field: str, value: object) -> None:
    chain = make_chain()
    chain[6] = dataclasses.replace(chain[6], **{field: value})  # type: ignore[arg-type]
    assert_broken_at(chain, 7, "hash")
    assert verify_chain(chain, MAC).checked == 6


def test_an_edited_link_is_found() -> None:
    chain = make_chain()
    chain[6] = dataclasses.replace(chain[6], prev_hash="f" * 64)
    assert_broken_at(chain, 7, "link")


def test_an_edited_seq_is_found() -> None:
    chain = make_chain()
    chain[6] = dataclasses.replace(chain[6], seq=70)
    assert_broken_at(chain, 7)


@pytest.mark.parametrize("index", [0, 9, 18])
def test_a_removed_entry_is_found(index: int) -> None:
    chain = make_chain()
    del chain[index]
    assert_broken_at(chain, index + 1, "missing")


def test_a_removed_entry_with_the_rest_renumbered_is_found() -> None:
    chain = make_chain()
    del chain[9]
    chain[9:] = [dataclasses.replace(e, seq=e.seq - 1) for e in chain[9:]]
    assert_broken_at(chain, 10)


def test_removing_the_last_entry_needs_the_recorded_head() -> None:
    chain = make_chain()
    head = (20, chain[-1].hash)
    del chain[-1]
    # The chain alone cannot tell: what is left is a valid shorter chain.
    assert verify_chain(chain, MAC).ok is True
    assert_broken_at(chain, 20, "missing", head=head)


def test_removing_the_last_entries_is_found_from_the_first_missing() -> None:
    chain = make_chain()
    head = (20, chain[-1].hash)
    del chain[-3:]
    assert_broken_at(chain, 18, "missing", head=head)


def test_a_head_from_another_chain_is_found() -> None:
    chain = make_chain()
    assert_broken_at(chain, 20, "head", head=(20, "a" * 64))


def test_entries_past_the_recorded_head_are_found() -> None:
    chain = make_chain()
    assert_broken_at(chain, 19, head=(18, chain[17].hash))


def test_two_swapped_entries_are_found() -> None:
    chain = make_chain()
    chain[4], chain[5] = chain[5], chain[4]
    assert_broken_at(chain, 5, "order")


def test_two_swapped_entries_with_seqs_rewritten_are_found() -> None:
    chain = make_chain()
    fifth, sixth = chain[4], chain[5]
    chain[4] = dataclasses.replace(sixth, seq=5)
    chain[5] = dataclasses.replace(fifth, seq=6)
    assert_broken_at(chain, 5)


def test_a_duplicated_entry_is_found() -> None:
    chain = make_chain()
    chain.insert(8, chain[7])
    assert_broken_at(chain, 9)


def test_a_hash_forged_without_the_key_is_found() -> None:
    chain = make_chain()
    edited = dataclasses.replace(chain[7], action="approved", actor="C-EVIL")
    payload = entry_payload(
        edited.seq, edited.at, edited.actor, edited.action, edited.case_code, edited.prev_hash
    )
    for forged in (
        hashlib.sha256(payload).hexdigest(),
        mac_with(b"guess" * 8)(payload).hex(),
    ):
        chain[7] = dataclasses.replace(edited, hash=forged)
        assert_broken_at(chain, 8, "hash")


def test_a_whole_chain_rebuilt_with_another_key_is_found() -> None:
    assert_broken_at(make_chain(mac=mac_with(b"x" * 32)), 1, "hash")


def test_an_entry_linked_to_the_wrong_predecessor_is_found() -> None:
    # Even an entry sealed with the right key must link to the entry just before it.
    chain = make_chain()
    chain[8] = seal_entry(
        seq=9,
        at=1,
        actor="C-0009",
        action="shown",
        case_code="K7QX",
        prev_hash=chain[6].hash,
        mac=MAC,
    )
    assert_broken_at(chain, 9, "link")


def test_a_pruned_log_verifies_from_its_anchor() -> None:
    chain = make_chain()
    kept = chain[10:]
    anchor = (11, chain[9].hash)
    report = verify_chain(kept, MAC, start=anchor, head=(20, chain[-1].hash))
    assert report.ok is True
    assert report.checked == 10
    assert_broken_at(kept, 1, "missing")
    assert_broken_at(kept, 11, "link", start=(11, "b" * 64))


@pytest.mark.parametrize("action", ["deleted", "", "CLAIMED", "read answers", "login"])
def test_an_unknown_audit_action_is_refused(action: str) -> None:
    with pytest.raises(ValueError, match="action"):
        seal_entry(
            seq=1, at=0, actor="C-7K3Q", action=action, case_code=None, prev_hash=GENESIS, mac=MAC
        )


@pytest.mark.parametrize(
    ("actor", "case_code"),
    [("I left my unit", None), ("C-7K3Q", "he is in Sagaing now"), ("", None), ("x" * 40, None)],
)
def test_free_text_cannot_enter_the_log(actor: str, case_code: str | None) -> None:
    with pytest.raises(ValueError):
        seal_entry(
            seq=1,
            at=0,
            actor=actor,
            action="noted",
            case_code=case_code,
            prev_hash=GENESIS,
            mac=MAC,
        )


def test_every_documented_action_can_be_logged() -> None:
    assert len(AUDIT_ACTIONS) == 35  # with the journey's check-ins and account change
    for action in sorted(AUDIT_ACTIONS):
        entry = seal_entry(
            seq=1, at=0, actor="system", action=action, case_code=None, prev_hash=GENESIS, mac=MAC
        )
        assert verify_chain([entry], MAC).ok is True


def test_a_mac_of_the_wrong_size_is_refused() -> None:
    with pytest.raises(ValueError, match="32"):
        seal_entry(
            seq=1,
            at=0,
            actor="operator",
            action="invited",
            case_code=None,
            prev_hash=GENESIS,
            mac=lambda data: b"short",
        )


def test_the_payload_is_canonical_and_unambiguous() -> None:
    one = entry_payload(1, 2, "C-7K3Q", "claimed", "K7QX", GENESIS)
    assert one == entry_payload(1, 2, "C-7K3Q", "claimed", "K7QX", GENESIS)
    assert one.isascii()
    assert b" " not in one
    variants = {
        one,
        entry_payload(1, 2, "C-7K3Q", "claimed", None, GENESIS),
        entry_payload(1, 2, "C-7K3Q", "claimed", "null", GENESIS),
        entry_payload(1, 2, "C-7K3", "Qclaimed", "K7QX", GENESIS),
        entry_payload(12, 2, "C-7K3Q", "claimed", "K7QX", GENESIS),
        entry_payload(1, 22, "C-7K3Q", "claimed", "K7QX", GENESIS),
    }
    assert len(variants) == 6


# -- passphrases ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "good",
    [
        "correct horse battery staple",
        "Tea at 7 under the mango tree",
        "ညနေ၇နာရီ သရက်ပင်အောက်မှာ လက်ဖက်ရည်",
        "မိုးရွာတဲ့ညမှာ စာအုပ်ဖတ်တယ်",
        "rain on the tin roof ပြီးတော့ ကော်ဖီ",
    ],
)
def test_good_passphrases(good: str) -> None:
    assert passphrase_problem(good) is None


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("short", "too_short"),
        ("   abcdefghijk   ", "too_short"),  # 11 after strip
        (unicodedata.normalize("NFD", "élève épée"), "too_short"),  # 10 in NFC, 14 in NFD
        ("မင်္ဂလာပါ", "too_short"),
        ("aaaaaaaaaaaaaaaa", "too_simple"),
        ("ababababcbcbcbcb", "too_simple"),
        ("123456789012", "too_simple"),
        ("9274 1183 6650", "too_simple"),
        ("၁၂၃၄၅၆၇၈၉၀၁၂", "too_simple"),  # Burmese digits are digits too
        ("ကခဂကခဂကခဂကခဂ", "too_simple"),
        ("abcdefabcdefabcdef", "too_simple"),
        ("qwertyuiop[]", "too_simple"),
        ("1qaz2wsx3edc", "too_simple"),
        ("zyxwvutsrqponm", "too_simple"),
        ("Password2024!", "too_simple"),
        ("  P a s s w o r d 1 2 3 4 ", "too_simple"),
        ("iloveyou12345", "too_simple"),
        ("Myanmar@2024!!", "too_simple"),
        ("my code is K7QX-M3PA-9TRE", "contains_code"),
        ("k7qx m3pa 9tre is my phrase", "contains_code"),
        ("tree k7qxm3pa9tre branches", "contains_code"),
    ],
)
def test_weak_passphrases(text: str, reason: str) -> None:
    assert passphrase_problem(text, forbidden=["K7QX-M3PA-9TRE"]) == reason


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        # Past the length and the simple rules, zxcvbn judges (score < 3) and names the reason.
        ("elephant1987", "weak_common"),
        ("p@ssw0rd1234", "weak_common"),
        ("asdfgh123456", "weak_common"),
        ("monkey12monkey", "weak_common"),
        ("Michael12345", "weak_names"),
        ("jennifer2010!", "weak_names"),
        ("elizabethsmith", "weak_names"),
        ("john19851985", "weak_repeats"),
        ("06/12/1987ab", "weak_dates"),
    ],
)
def test_guessable_passphrases_are_refused_with_zxcvbns_reason(text: str, reason: str) -> None:
    assert passphrase_problem(text) == reason
    assert reason in REASONS


@pytest.mark.parametrize(
    "strong",
    [
        "river lantern copper seven",
        "quiet harbour maple ninety",
        "Tr0ub4dor&3xx",
        "မြစ်ကမ်းနားမှာ ညနေ",
        "horse tables",
    ],
)
def test_strong_passphrases_pass_zxcvbn(strong: str) -> None:
    assert passphrase_problem(strong) is None


def test_a_long_passphrase_is_judged_on_what_zxcvbn_can_read() -> None:
    """zxcvbn refuses input past 72 characters; a long passphrase must not crash enrolment."""
    long = "river lantern copper seven, then the mango tree by the old tea shop at dusk " * 2
    assert len(long) > 72 and passphrase_problem(long + "and rain") is None
    assert passphrase_problem("password" * 10 + " river lantern copper seven") == "weak_repeats"


def test_empty_forbidden_strings_are_ignored() -> None:
    assert passphrase_problem("correct horse battery staple", forbidden=["", "  ", "-"]) is None
    assert (
        passphrase_problem("correct horse battery staple", forbidden=["HORSE"]) == "contains_code"
    )


def test_min_length_is_twelve_characters_of_any_script() -> None:
    assert MIN_LENGTH == 12
    assert passphrase_problem("horse tables") is None  # exactly 12
    assert passphrase_problem("horse table") == "too_short"


# -- the queue --------------------------------------------------------------------------------

NOW = 10_000_000
SECRET = "MARKER-sagaing-unit-77"


def item(
    code: str,
    *,
    age: int = 3600,
    assignee: str | None = None,
    flagged: bool = False,
    **triage: object,
) -> QueueItem:
    state = S.SUBMITTED if assignee is None else S.CLAIMED
    return QueueItem(code, state, NOW - age, assignee, triage, flagged)


def test_queue_order() -> None:
    items = [
        item("CALM", status="still_there", age=90_000),
        item("SAFE", status="left"),
        item("FLAG", status="still_there", flagged=True),
        item("HELD", status="in_danger", assignee="C-7K3Q", age=50_000),
        item("DNGR", status="in_danger"),
        item("NSAF", status="not_safe"),
        item("NONE"),
        item("OLDD", status="in_danger", age=7200),
    ]
    got = [i.code for i in order(items)]
    assert got == ["OLDD", "DNGR", "HELD", "NSAF", "SAFE", "FLAG", "CALM", "NONE"]


def test_priority_signals_outrank_all_lower_ones() -> None:
    danger = priority(item("A", status="in_danger", assignee="C-1"))
    not_safe_left_flagged = priority(item("B", status="not_safe", flagged=True))
    left_flagged = priority(item("C", status="left", flagged=True))
    assert danger > not_safe_left_flagged > left_flagged
    assert priority(item("D", flagged=True, assignee="C-1")) > priority(item("E"))
    assert priority(item("F")) > priority(item("G", assignee="C-1"))


DAY = 86_400


@pytest.mark.parametrize(
    ("submitted_at", "now", "text"),
    [
        (100 * DAY, 100 * DAY, "since today"),
        (100 * DAY, 100 * DAY + 23 * 3600, "since today"),  # sent at any hour of that day
        (100 * DAY, 101 * DAY, "1 d"),
        (100 * DAY, 102 * DAY + 5, "2 d"),
        (100 * DAY, 99 * DAY, "since today"),  # a clock set back says nothing odd
        (100 * DAY + 7 * 3600, 100 * DAY + 8 * 3600, "since today"),  # a time not on the grid
    ],
)
def test_format_waiting_counts_days_since_the_stored_day(
    submitted_at: int, now: int, text: str
) -> None:
    assert format_waiting(submitted_at, now) == text


def test_queue_lines_say_only_code_state_triage_age_and_handle() -> None:
    items = order(
        [
            item("K7QX", status="in_danger", age=3 * 3600, assignee="C-7K3Q"),
            item("M3PA", status="not_safe", flagged=True, age=600),
            item("9TRE", age=2 * 86_400),
        ]
    )
    assert queue_lines(items, now=NOW) == [
        "K7QX · claimed · in danger, still there · waiting since today · C-7K3Q",
        "M3PA · submitted · not safe, left, flagged · waiting since today · unclaimed",
        "9TRE · submitted · no triage · waiting 2 d · unclaimed",
    ]


def test_no_answer_content_reaches_queue_lines_or_notices() -> None:
    triage: dict[str, object] = {
        "status": SECRET,
        "danger": SECRET,
        "safe": SECRET,
        "region": SECRET,
        "years": 17,
        "name": SECRET,
        "service": ["police", SECRET],
    }
    one = QueueItem("K7QX", S.SUBMITTED, NOW - 60, None, triage, False)
    texts = [*queue_lines([one], now=NOW), notice_text("K7QX", triage)]
    for text in texts:
        assert SECRET not in text
        assert "sagaing" not in text.casefold()
        assert "17" not in text
        assert "police" not in text
    assert texts[-1] == "New case K7QX · triage: none"


def test_notice_text() -> None:
    assert notice_text("K7QX", {"status": "in_danger"}) == (
        "New case K7QX · triage: in danger, still there"
    )
    assert notice_text("M3PA", {"status": "not_safe"}, flagged=True) == (
        "New case M3PA · triage: not safe, left, flagged"
    )


@pytest.mark.parametrize("flagged", [True, False])
@pytest.mark.parametrize(
    "triage",
    [
        {},
        {"status": "in_danger"},
        {"status": "still_there"},
        {"status": "not_safe"},
        {"status": "left"},
    ],
)
def test_notices_and_queue_lines_read_neutrally(triage: dict[str, object], flagged: bool) -> None:
    notice = notice_text("K7QX", triage, flagged=flagged)
    assert "\n" not in notice
    assert check_first_line(notice) == []
    line = queue_lines([QueueItem("K7QX", S.CLAIMED, 0, "C-7K3Q", triage, flagged)], now=99)
    assert check_first_line(line[0]) == []


# -- vetting steps ----------------------------------------------------------------------------

STEPS = (
    Step("call"),
    Step("story"),
    Step("extra", required=False),
    Step("second", required=False, second_person=True),
)


def _done(*pairs: str) -> dict[str, Done]:
    """``"call:A"`` is step call, checked by A."""
    return {
        step: Done(step, by, 100 + i)
        for i, (step, _, by) in enumerate(p.partition(":") for p in pairs)
    }


@pytest.mark.parametrize(
    ("done", "flagged", "waiting"),
    [
        ((), False, ("call", "story")),
        (("call:A",), False, ("story",)),
        (("call:A", "story:A"), False, ()),
        # A flagged case waits for every step, required or not.
        (("call:A", "story:A"), True, ("extra", "second")),
        (("call:A", "story:A", "extra:A", "second:B"), True, ()),
        ((), True, ("call", "story", "extra", "second")),
        # Steps not required never hold an unflagged case back.
        (("extra:A", "second:B"), False, ("call", "story")),
    ],
)
def test_what_approval_waits_for(
    done: tuple[str, ...], flagged: bool, waiting: tuple[str, ...]
) -> None:
    assert missing(STEPS, _done(*done), flagged=flagged) == waiting


def test_no_steps_wait_for_nothing() -> None:
    assert missing((), {}, flagged=True) == ()


# (done before, step, actor, holder, lead, the refusal or None): a row of the tables below.
StepRow = tuple[tuple[str, ...], str, str, str | None, bool, Refusal | None]

# (done before, step, actor, holder, lead) -> the refusal, or None if the step may be checked.
CHECKS: list[StepRow] = [
    ((), "call", "A", "A", False, None),
    # An ordinary step is the holder's (or a lead's): another coordinator records none.
    ((), "call", "B", "A", False, Refusal.NOT_HOLDER),
    ((), "call", "B", "A", True, None),
    ((), "extra", "B", "A", False, Refusal.NOT_HOLDER),  # required or not
    (("call:A",), "call", "A", "A", False, Refusal.ALREADY_DONE),
    (("call:A",), "call", "B", "A", False, Refusal.ALREADY_DONE),
    ((), "nope", "A", "A", False, Refusal.UNKNOWN_STEP),
    ((), "CALL", "A", "A", False, None),  # typed in capitals
    # The second person's step: never the holder, never someone who checked another step.
    ((), "second", "A", "A", False, Refusal.HOLDER),
    ((), "second", "A", "A", True, Refusal.HOLDER),  # a lead holding the case neither
    (("call:A",), "second", "A", "A", False, Refusal.HOLDER),
    (("call:B",), "second", "B", "A", True, Refusal.SAME_PERSON),
    (("call:A", "story:A"), "second", "B", "A", False, None),
    (("call:A", "story:C"), "second", "B", "A", False, None),
    (("call:A", "story:B"), "second", "B", "A", True, Refusal.SAME_PERSON),
    # ...and whoever agreed as the second person checks nothing else of the case.
    (("second:B",), "story", "B", "A", True, Refusal.SAME_PERSON),
    (("second:B",), "story", "A", "A", False, None),
    (("second:B",), "second", "C", "A", False, Refusal.ALREADY_DONE),
    # An unclaimed case has no holder: the second step still needs a fresh person.
    (("call:A",), "second", "A", None, False, Refusal.SAME_PERSON),
    ((), "second", "A", None, False, None),
]


@pytest.mark.parametrize("row", CHECKS, ids=str)
def test_who_may_check_a_step(row: StepRow) -> None:
    _decided(check, *row)


def _decided(
    rule: Callable[..., Step],
    done: tuple[str, ...],
    step: str,
    actor: str,
    holder: str | None,
    lead: bool,
    refusal: Refusal | None,
) -> None:
    """``rule`` (check or uncheck) on the record ``done``: the step it records (named as typed,
    in any case), or the refusal expected."""
    got = _done(*done)
    if refusal is None:
        assert rule(STEPS, got, step, actor=actor, holder=holder, lead=lead).id == step.lower()
        return
    with pytest.raises(StepRefused) as caught:
        rule(STEPS, got, step, actor=actor, holder=holder, lead=lead)
    assert caught.value.reason is refusal


# (done before, step, actor, holder, lead) -> the refusal, or None.
UNCHECKS: list[StepRow] = [
    (("call:A",), "call", "A", "A", False, None),
    (("call:B",), "call", "B", "A", False, None),  # whoever checked it
    (("call:B",), "call", "A", "A", False, None),  # the holder
    (("call:B",), "call", "C", "A", False, Refusal.NOT_THEIRS),
    (("call:B",), "call", "C", "A", True, None),  # a lead
    ((), "call", "A", "A", False, Refusal.NOT_DONE),
    ((), "nope", "A", "A", True, Refusal.UNKNOWN_STEP),
]


@pytest.mark.parametrize("row", UNCHECKS, ids=str)
def test_who_may_take_a_step_back(row: StepRow) -> None:
    _decided(uncheck, *row)


def test_the_record_is_read_in_the_order_written() -> None:
    marks = [
        Mark("call", "A", 1, text="first call"),
        Mark("story", "A", 2),
        Mark("call", "B", 3, undone=True, text="wrong person"),
        Mark("call", "B", 4, text="second call"),
        Mark("story", "A", 5, undone=True),
    ]
    assert progress(marks) == {"call": Done("call", "B", 4, "second call")}
    assert progress(marks[:2]) == {
        "call": Done("call", "A", 1, "first call"),
        "story": Done("story", "A", 2),
    }
    assert progress([]) == {}


def test_the_view_keeps_each_steps_last_word_and_counts_earlier_undos() -> None:
    marks = [
        Mark("call", "A", 1, text="first"),
        Mark("call", "B", 2, undone=True, text="wrong person"),
        Mark("call", "A", 3, text="second"),
        Mark("call", "B", 4, undone=True, text="unsure again"),
        Mark("story", "A", 5),
        Mark("story", "A", 6, undone=True, text="no"),
        Mark("story", "A", 7, text="yes"),
        Mark("extra", "A", 8),
    ]
    assert latest(marks) == {
        "call": Latest(marks[3], 1),  # the last undo shown, one before it counted
        "story": Latest(marks[6], 1),
        "extra": Latest(marks[7], 0),
    }
    assert latest([]) == {}


def test_a_flagged_case_needs_steps_and_two_approvals() -> None:
    """Both gates, together: every step, then two different people's approvals."""
    done = _done("call:A", "story:A", "extra:A")
    assert missing(STEPS, done, flagged=True) == ("second",)
    with pytest.raises(StepRefused):
        check(STEPS, done, "second", actor="A", holder="A")
    done |= _done("second:B")
    assert missing(STEPS, done, flagged=True) == ()
    first = approve(actor_id="A", assignee_id="A", pending_by=None, two_person=False, flagged=True)
    assert first.complete is False


# -- close cases ------------------------------------------------------------------------------


def _case(code: str, day: int, **answers: object) -> CaseAnswers:
    texts = {
        k: text_readings(str(v), False, lambda t: None) for k, v in answers.items() if k == "notes"
    }
    choices = {k: v for k, v in answers.items() if k != "notes"}
    return CaseAnswers(code, day * 86400 + 3600, choices, texts)  # type: ignore[arg-type]


BASE = {
    "service": "police",
    "rank": "nco",
    "years": "from_2_to_5",
    "region": "sagaing",
    "family": 3,
    "when": "evening",
    "how": "this_chat",
    "who": "self",
    "notes": "I want to leave with my wife and two children, we are near Monywa",
}


@pytest.mark.parametrize(
    ("changes", "same", "close"),
    [
        ({}, 9, True),
        ({"family": 4}, 8, True),
        ({"family": 4, "region": "mon"}, 7, True),
        ({"family": 4, "region": "mon", "rank": "officer"}, 6, False),
        # The same story in other words still reads as the same answer.
        ({"notes": "i want to leave with my wife and 2 children; we are near Monywa."}, 9, True),
        ({"notes": "Officer, alone, in Yangon, leaving next week"}, 8, True),
        ({"notes": "Officer, alone", "family": 0, "service": "armed_forces"}, 6, False),
    ],
)
def test_how_close_two_cases_are(changes: dict[str, object], same: int, close: bool) -> None:
    a = _case("AAAA", 10, **BASE)
    b = _case("BBBB", 12, **{**BASE, **changes})
    found = compare(a, b)
    assert (found.same, found.compared, found.days_apart) == (same, 9, 2)
    assert is_close(found) is close


def test_an_answer_only_one_case_has_counts_against_closeness() -> None:
    a = _case("AAAA", 1, **BASE)
    fewer = {k: v for k, v in BASE.items() if k != "notes"}
    found = compare(a, _case("BBBB", 1, **fewer))
    assert (found.same, found.compared) == (8, 9)


def test_nearly_empty_forms_are_not_close() -> None:
    a = _case("AAAA", 1, service="police", rank="nco")
    assert not is_close(compare(a, _case("BBBB", 1, service="police", rank="nco")))


def test_zawgyi_and_unicode_of_one_text_are_the_same_answer() -> None:
    unicode_text = "ကျွန်တော် မိသားစုနဲ့ ထွက်ချင်တယ်"
    zawgyi_text = "ကၽြန္ေတာ္ မိသားစုနဲ႔ ထြက္ခ်င္တယ္"
    stored = text_readings(zawgyi_text, True, zawgyi_to_unicode)
    assert _fold(unicode_text) in stored
    other = text_readings(unicode_text, False, zawgyi_to_unicode)
    assert _texts_alike(stored, other)
    assert not _texts_alike(other, text_readings("ရန်ကုန်မှာ ရှိတယ်", False, zawgyi_to_unicode))


def test_burmese_digits_and_spacing_do_not_make_an_answer_different() -> None:
    assert _fold("09 ၄၅၆ 789") == _fold("09-456-789".replace("-", " "))


def test_the_closest_come_first_and_the_case_itself_never() -> None:
    me = _case("AAAA", 10, **BASE)
    others = [
        me,
        _case("FARR", 10, **{**BASE, "family": 1, "region": "mon"}),
        _case("NEAR", 13, **BASE),
        _case("SAME", 10, **BASE),
        _case("DIFF", 10, **{**BASE, "family": 1, "region": "mon", "rank": "officer"}),
    ]
    assert [c.code for c in closest(me, others)] == ["SAME", "NEAR", "FARR"]
    assert closest(me, others, most=1)[0] == Closeness("SAME", 9, 9, 0)


def test_cases_whose_buttons_differ_are_never_compared_word_by_word(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """/queue and /show compare every pair of cases: a typed story is compared letter by letter
    only where the button answers leave the pair a chance of being close, and never past
    ``TEXT_COMPARED`` characters."""
    calls: list[int] = []
    real = SequenceMatcher.ratio

    def counted(self: SequenceMatcher[str]) -> float:
        calls.append(max(len(self.a), len(self.b)))
        return real(self)

    monkeypatch.setattr(SequenceMatcher, "ratio", counted)
    # Each button answer cycles with its own prime: no two of 300 cases share six of them.
    primes = dict(
        zip(
            ("service", "rank", "years", "region", "family", "when", "how", "who"),
            (2, 3, 5, 7, 11, 13, 17, 19),
            strict=True,
        )
    )
    story = "long words about the road to the border " * 12

    def numbered(i: int, notes: str, code: str = "") -> CaseAnswers:
        answers = {q: f"{q}{i % p}" for q, p in primes.items()}
        return _case(code or f"C{i:03d}", 10, **answers, notes=notes)

    cases = [numbered(i, f"story number {i} {story}") for i in range(300)]
    # ...but two more have one case's buttons and nearly its story: those are compared.
    cases += [numbered(5, f"story number {n} {story}", f"D{n}") for n in (5000, 5001)]
    assert bursts(cases) == [("C005", "D5000", "D5001")]
    assert [c.code for c in closest(cases[5], cases[:300])] == []
    # 302 cases are 45,451 pairs; the three alike are the only ones read letter by letter.
    assert len(calls) == 3, len(calls)
    assert max(calls) == TEXT_COMPARED


def test_a_long_story_is_compared_on_its_beginning() -> None:
    long_a = "we are near Monywa " * 40
    long_b = long_a[:250] + "something else entirely " * 30
    a, b = (
        text_readings(long_a, False, lambda t: None),
        text_readings(long_b, False, lambda t: None),
    )
    assert all(len(r) <= TEXT_COMPARED for r in (*a, *b))
    assert _texts_alike(a, b)


def test_a_burst_is_several_close_cases_within_a_day() -> None:
    cases = [
        _case("AAAA", 10, **BASE),
        _case("BBBB", 10, **{**BASE, "family": 4}),
        _case("CCCC", 11, **BASE),
        _case("DDDD", 30, **BASE),  # the same answers, but weeks later
        _case("EEEE", 10, **{**BASE, "family": 0, "region": "mon", "rank": "officer"}),
    ]
    assert bursts(cases) == [("AAAA", "BBBB", "CCCC")]
    assert bursts(cases[:2]) == []  # two alike are not yet a burst


# -- long texts as messages -------------------------------------------------------------------


def test_a_long_view_is_cut_into_messages_between_sections() -> None:
    sections = ["head", "a" * 3000, "b\n" * 1500, "c" * 9000, "tail"]
    text = "\n\n".join(sections)
    pieces = message_pieces(text)
    assert all(0 < len(p) <= MESSAGE_LIMIT for p in pieces)
    assert "".join(pieces).replace("\n", "") == text.replace("\n", "")  # nothing lost
    assert pieces[0] == "head\n\n" + "a" * 3000  # whole sections kept together where they fit
    assert pieces[-1].endswith("tail")
    assert message_pieces("short\n\nview") == ["short\n\nview"]
