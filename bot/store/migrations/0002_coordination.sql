-- Coordination: the team that vets cases, the keys that let only them open a case, the
-- messages the bot owes Telegram, and an append-only audit trail. As in 0001, anything a
-- person wrote or who they are is ciphertext (BLOB); plaintext is limited to random ids,
-- public handles and codes, roles and states, times, counters and hashes.

-- Enrolled coordinators. A revoked row stays, so a revoked person is recognised and refused
-- without ever being told anything; their sealed copies of case keys are deleted at revocation.
CREATE TABLE coordinators (
    id                     TEXT PRIMARY KEY,        -- random, hex
    handle                 TEXT NOT NULL UNIQUE,    -- short random public name, e.g. C-7K3Q
    pseudonym              BLOB NOT NULL UNIQUE,    -- HMAC of the Telegram id
    chat                   BLOB NOT NULL,           -- private chat id, sealed by the caller
    role                   TEXT NOT NULL CHECK (role IN ('coordinator', 'lead')),
    public_key             BLOB NOT NULL,           -- X25519 public key
    protected_private_key  BLOB NOT NULL,           -- private key under Argon2id(passphrase)
    status                 TEXT NOT NULL CHECK (status IN ('active', 'revoked')),
    created_at             INTEGER NOT NULL,
    revoked_at             INTEGER,
    CHECK ((status = 'revoked') = (revoked_at IS NOT NULL))
);

ALTER TABLE cases ADD COLUMN assignee TEXT REFERENCES coordinators (id) ON DELETE SET NULL;
ALTER TABLE cases ADD COLUMN flagged INTEGER NOT NULL DEFAULT 0 CHECK (flagged IN (0, 1));
ALTER TABLE cases ADD COLUMN pending_approval_by TEXT;   -- coordinator id of a first approval
ALTER TABLE cases ADD COLUMN priority INTEGER NOT NULL DEFAULT 0;

CREATE INDEX cases_assignee ON cases (assignee);

-- One-time enrolment invites; only a hash of the high-entropy code is kept.
CREATE TABLE invites (
    code_hash   TEXT PRIMARY KEY,
    role        TEXT NOT NULL CHECK (role IN ('coordinator', 'lead')),
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    used_at     INTEGER
);

-- The case key sealed to each coordinator's public key: one row per copy. Deleting the rows
-- of a case (or of a coordinator) is what makes the case unreadable to them.
CREATE TABLE case_keys (
    case_id         TEXT NOT NULL REFERENCES cases (id) ON DELETE CASCADE,
    coordinator_id  TEXT NOT NULL REFERENCES coordinators (id) ON DELETE CASCADE,
    sealed_key      BLOB NOT NULL,
    PRIMARY KEY (case_id, coordinator_id)
) WITHOUT ROWID;

CREATE INDEX case_keys_coordinator ON case_keys (coordinator_id);

-- A revoked coordinator must never receive a new copy, whatever the caller believed when it
-- chose whom to seal to.
CREATE TRIGGER case_keys_active_only_insert
BEFORE INSERT ON case_keys
WHEN NOT EXISTS (
    SELECT 1 FROM coordinators WHERE id = NEW.coordinator_id AND status = 'active'
)
BEGIN
    SELECT RAISE(ABORT, 'case keys are sealed to active coordinators only');
END;

CREATE TRIGGER case_keys_active_only_update
BEFORE UPDATE ON case_keys
WHEN NOT EXISTS (
    SELECT 1 FROM coordinators WHERE id = NEW.coordinator_id AND status = 'active'
)
BEGIN
    SELECT RAISE(ABORT, 'case keys are sealed to active coordinators only');
END;

-- A per-case key pair: the bot seals into the case (answers to relayed questions) with the
-- public half; the private half is protected so that only a coordinator can open it.
CREATE TABLE case_dropbox (
    case_id                TEXT PRIMARY KEY REFERENCES cases (id) ON DELETE CASCADE,
    public_key             BLOB NOT NULL,
    protected_private_key  BLOB NOT NULL
) WITHOUT ROWID;

-- Items deposited through the dropbox, waiting for a coordinator to open them.
CREATE TABLE case_inbox (
    id          INTEGER PRIMARY KEY,
    case_id     TEXT NOT NULL REFERENCES cases (id) ON DELETE CASCADE,
    sealed      BLOB NOT NULL,
    created_at  INTEGER NOT NULL
);

CREATE INDEX case_inbox_case ON case_inbox (case_id, id);

-- A question relayed to an applicant. The token reaches the applicant; only its hash is kept.
CREATE TABLE relays (
    token_hash   TEXT PRIMARY KEY,
    case_id      TEXT NOT NULL REFERENCES cases (id) ON DELETE CASCADE,
    created_at   INTEGER NOT NULL,
    answered_at  INTEGER
);

CREATE INDEX relays_case ON relays (case_id);

-- Hash-chained record of every coordinator action; it names handles and public case codes,
-- never case content.
CREATE TABLE audit_log (
    seq        INTEGER PRIMARY KEY,
    at         INTEGER NOT NULL,
    actor      TEXT NOT NULL,
    action     TEXT NOT NULL,
    case_code  TEXT,
    prev_hash  TEXT NOT NULL,
    hash       TEXT NOT NULL
);

-- The last seq and hash, kept beside the log so that removing the newest entries (with the
-- triggers dropped, from a copy of the file) no longer matches the head.
CREATE TABLE audit_head (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    seq   INTEGER NOT NULL,
    hash  TEXT NOT NULL
);

CREATE TRIGGER audit_log_no_update
BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit log is append-only');
END;

CREATE TRIGGER audit_log_no_delete
BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit log is append-only');
END;

-- An entry must extend the chain at its head: the next number, linked to the last hash.
CREATE TRIGGER audit_log_extends_head
BEFORE INSERT ON audit_log
WHEN NEW.seq IS NOT COALESCE((SELECT seq FROM audit_head WHERE id = 1), 0) + 1
  OR NEW.prev_hash IS NOT COALESCE(
        (SELECT hash FROM audit_head WHERE id = 1),
        '0000000000000000000000000000000000000000000000000000000000000000')
BEGIN
    SELECT RAISE(ABORT, 'audit entry does not extend the chain');
END;

CREATE TRIGGER audit_head_no_delete
BEFORE DELETE ON audit_head
BEGIN
    SELECT RAISE(ABORT, 'audit log is append-only');
END;

CREATE TRIGGER audit_head_follows_log_insert
BEFORE INSERT ON audit_head
WHEN NEW.seq IS NOT 1
  OR NOT EXISTS (SELECT 1 FROM audit_log WHERE seq = NEW.seq AND hash = NEW.hash)
BEGIN
    SELECT RAISE(ABORT, 'audit head must name the newest entry');
END;

CREATE TRIGGER audit_head_follows_log_update
BEFORE UPDATE ON audit_head
WHEN NEW.seq IS NOT OLD.seq + 1
  OR NOT EXISTS (SELECT 1 FROM audit_log WHERE seq = NEW.seq AND hash = NEW.hash)
BEGIN
    SELECT RAISE(ABORT, 'audit head must name the newest entry');
END;

-- Messages that must reach Telegram, written in the same transaction as their cause and
-- deleted once Telegram accepts them. last_error is an exception type name, nothing more.
CREATE TABLE outbox (
    id               INTEGER PRIMARY KEY,
    chat             BLOB NOT NULL,
    body             BLOB NOT NULL,
    created_at       INTEGER NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  INTEGER NOT NULL,
    last_error       TEXT
);

CREATE INDEX outbox_due ON outbox (next_attempt_at, id);

-- Case views shown to coordinators, to be deleted from their chat even across restarts.
CREATE TABLE scheduled_deletions (
    id          INTEGER PRIMARY KEY,
    chat        BLOB NOT NULL,
    message_id  INTEGER NOT NULL,
    delete_at   INTEGER NOT NULL
);

CREATE INDEX scheduled_deletions_due ON scheduled_deletions (delete_at, id);
