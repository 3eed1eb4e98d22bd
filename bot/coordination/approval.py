"""Two-person approval: one coordinator alone cannot wave an applicant through.

Infiltrators pose as defectors, and a coordinator can be wrong, tired or turned. With two-person
approval on, or on any case flagged as suspect, the coordinator who holds the case approves first
and a different coordinator must confirm before the case counts as approved.
"""

from __future__ import annotations

from dataclasses import dataclass


class ApprovalRefused(Exception):
    """An approval this person may not make now; ``str()`` is one line fit to show them."""


@dataclass(frozen=True)
class ApprovalResult:
    """``complete`` means the case may move to approved now. ``first_approver`` is who made the
    first (or only) approval; when ``complete`` is False the caller stores it as pending."""

    complete: bool
    first_approver: str | None


NOT_ASSIGNEE = "only the coordinator who claimed this case can approve it first"
ALREADY_APPROVED = "you approved this case already; a second coordinator must confirm"


def approve(
    *,
    actor_id: str,
    assignee_id: str | None,
    pending_by: str | None,
    two_person: bool,
    flagged: bool,
) -> ApprovalResult:
    """Decide what one approval does. ``pending_by`` is whoever made a first approval that still
    waits for confirmation (None if nobody has)."""
    needs_two = two_person or flagged
    if pending_by is not None:
        if actor_id != pending_by:
            return ApprovalResult(complete=True, first_approver=pending_by)
        if needs_two:
            raise ApprovalRefused(ALREADY_APPROVED)
        # The policy was relaxed after a first approval: the one approval now suffices.
        return ApprovalResult(complete=True, first_approver=pending_by)
    if assignee_id is None or actor_id != assignee_id:
        raise ApprovalRefused(NOT_ASSIGNEE)
    return ApprovalResult(complete=not needs_two, first_approver=actor_id)
