-- Operations: the bot's last successful contact with Telegram, for health checks, and the
-- anchors that keep the audit chain verifiable after a master-key rotation.

-- One row, moved forward by the running bot each time Telegram answers it.
CREATE TABLE heartbeat (
    id  INTEGER PRIMARY KEY CHECK (id = 1),
    at  INTEGER NOT NULL
);

-- A rotation vouches for the audit entries 1..through_seq under the new master key: a keyed MAC
-- (under key_id) over those entries, so they stay verifiable once the old key is gone. The log
-- itself is append-only and is never re-MACed; anchors are append-only too.
CREATE TABLE audit_anchors (
    id           INTEGER PRIMARY KEY,
    through_seq  INTEGER NOT NULL,
    key_id       TEXT NOT NULL,
    mac          TEXT NOT NULL,
    at           INTEGER NOT NULL
);

CREATE TRIGGER audit_anchors_no_update
BEFORE UPDATE ON audit_anchors
BEGIN
    SELECT RAISE(ABORT, 'audit anchors are append-only');
END;

CREATE TRIGGER audit_anchors_no_delete
BEFORE DELETE ON audit_anchors
BEGIN
    SELECT RAISE(ABORT, 'audit anchors are append-only');
END;
