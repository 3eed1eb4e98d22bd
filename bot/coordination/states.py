"""The life of a submitted case, as a closed table of moves.

A case only ever moves along an edge of ``TRANSITIONS``; everything else is refused with a line a
coordinator can read. Keeping the graph as data lets a test walk all of it, and lets the queue
and the store agree on which states are still open.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType

from bot.coordination.words import Words, english


class CaseState(StrEnum):
    SUBMITTED = "submitted"
    CLAIMED = "claimed"
    APPROVED = "approved"
    REJECTED = "rejected"
    HANDED_OFF = "handed_off"
    CLOSED = "closed"


class Action(StrEnum):
    CLAIM = "claim"
    RELEASE = "release"
    REASSIGN = "reassign"
    APPROVE = "approve"
    REJECT = "reject"
    HANDOFF = "handoff"
    CLOSE = "close"


TRANSITIONS: Mapping[tuple[CaseState, Action], CaseState] = MappingProxyType(
    {
        (CaseState.SUBMITTED, Action.CLAIM): CaseState.CLAIMED,
        (CaseState.CLAIMED, Action.RELEASE): CaseState.SUBMITTED,
        (CaseState.CLAIMED, Action.REASSIGN): CaseState.CLAIMED,
        (CaseState.CLAIMED, Action.APPROVE): CaseState.APPROVED,
        (CaseState.CLAIMED, Action.REJECT): CaseState.REJECTED,
        # Approved is not yet handed off: the applicant knows nothing, and whatever turns up
        # before the handoff (a step found wrong) can still stop the case.
        (CaseState.APPROVED, Action.REJECT): CaseState.REJECTED,
        (CaseState.APPROVED, Action.HANDOFF): CaseState.HANDED_OFF,
        (CaseState.HANDED_OFF, Action.CLOSE): CaseState.CLOSED,
        (CaseState.REJECTED, Action.CLOSE): CaseState.CLOSED,
    }
)

# Cases a coordinator still has work on: the queue lists these and nothing else.
OPEN_STATES: frozenset[CaseState] = frozenset(
    {CaseState.SUBMITTED, CaseState.CLAIMED, CaseState.APPROVED}
)

_STATE_WORDS: Mapping[CaseState, str] = MappingProxyType(
    {state: state.value.replace("_", " ") for state in CaseState}
)

_DONE_WORDS: Mapping[Action, str] = MappingProxyType(
    {
        Action.CLAIM: "claimed",
        Action.RELEASE: "released",
        Action.REASSIGN: "reassigned",
        Action.APPROVE: "approved",
        Action.REJECT: "rejected",
        Action.HANDOFF: "handed off",
        Action.CLOSE: "closed",
    }
)


def state_word(state: CaseState, words: Words = english) -> str:
    """The state as a coordinator reads it ("handed off", not "handed_off"), in ``words``'
    language (the ``state_<state>`` key)."""
    return words(f"state_{CaseState(state).value}")


class IllegalTransition(Exception):
    """A move the case's state does not allow; ``str()`` is one line fit to show a coordinator."""

    def __init__(self, state: CaseState, action: Action) -> None:
        self.state = CaseState(state)
        self.action = Action(action)
        super().__init__(
            f"case is {_STATE_WORDS[self.state]}; it cannot be {_DONE_WORDS[self.action]}"
        )


def transition(state: CaseState, action: Action) -> CaseState:
    """The state after ``action``; raises ``IllegalTransition`` for a move the table lacks."""
    state, action = CaseState(state), Action(action)
    try:
        return TRANSITIONS[(state, action)]
    except KeyError:
        raise IllegalTransition(state, action) from None


def allowed_actions(state: CaseState) -> frozenset[Action]:
    """The moves open from ``state``, so a reply can say what would have worked."""
    state = CaseState(state)
    return frozenset(action for (source, action) in TRANSITIONS if source is state)
