-- An applicant's chat, named and sealed by its chat key, which never touches disk. One row per
-- chat holds its form under way and the ids of its messages still on the phone. Nothing here can
-- be found or recognised from a Telegram id, even with the master key: the name is an HMAC of
-- the id under the chat key, the body AES-256-GCM under it. The expiry is kept to the hour.
--
-- Drafts under a pseudonym (cases.status = 'draft') and chat_traces are what the earlier
-- releases wrote: read once more when their owner next writes (moved here, then deleted), or
-- deleted when they expire.
CREATE TABLE chat_states (
    name        BLOB PRIMARY KEY,
    body        BLOB NOT NULL,
    expires_at  INTEGER NOT NULL
) WITHOUT ROWID;

CREATE INDEX chat_states_expiry ON chat_states (expires_at);
