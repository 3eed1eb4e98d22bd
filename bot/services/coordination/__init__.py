"""The coordinators' side: enrolment, unlocking, the queue, vetting, relays and the audit log.

Rules (who may do what, which state follows which) live in ``bot.coordination`` as plain
Python; this service applies them to rows, keys and the outbox. Anything that must reach
someone else (a group notice, a question for an applicant) is queued in the same transaction
as the change behind it.

Every word a coordinator reads comes from the coordinators' catalogue in the language they chose
(``/language``; at enrolment, their Telegram app's), and every refusal names the command that
would go through: they work under pressure, many in Burmese, and a bare "no" costs a case time.

Where each behaviour lives:
- ``service``: a message in, a response out; who may run which command (the access table);
- ``enrolment``: invites, enrolment, /unlock and /lock, the key ring, /grant, /revoke;
- ``workflow``: a submission's notice, /queue, /stats, and each move of a case, from /claim to
  /handoff and /purge, and the case views that vanish after a while;
- ``relay``: /ask and the applicant's answer on its way back, sealed to the case;
- ``teams``: /transfer, a case moved under a new key;
- ``audit``: /audit, the chain's verification and its head posted off the server;
- ``checkins``: /checkin after the handoff, the runner that sends and watches check-ins, and
  the applicant's answer;
- ``accounts``: a case that follows its person to a new account (``/status``, then one tap);
- ``base``: the state and helpers all of them share (opening a case, moving it, the audit entry).
"""

from bot.crypto import UnlockedKey
from bot.services.coordination.base import (
    PENDING_SECONDS,
    CoordinationSettings,
    CoordIncoming,
    CoordResponse,
    open_inbox,
)
from bot.services.coordination.service import CoordinationService

__all__ = [
    "PENDING_SECONDS",
    "CoordIncoming",
    "CoordResponse",
    "CoordinationService",
    "CoordinationSettings",
    "UnlockedKey",
    "open_inbox",
]
