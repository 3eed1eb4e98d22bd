-- A check-in's two buttons, while it waits for an answer. The tokens reach the applicant's chat
-- only; a row keeps a keyed digest of the token and the chat's pseudonym, so it opens to nobody
-- without the token and answers only from the chat it was sent to. Which button a row is lies in
-- the digest's purpose, not in the row. Both rows go when the check-in is answered, replaced by
-- the next, or the schedule stops: a tap after a restart still reaches the team.
CREATE TABLE checkin_tokens (
    token_hash  TEXT PRIMARY KEY,
    case_id     TEXT NOT NULL REFERENCES cases (id) ON DELETE CASCADE,
    missed      INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;

CREATE INDEX checkin_tokens_case ON checkin_tokens (case_id);
