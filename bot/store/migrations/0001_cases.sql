-- Cases and their drafts. Anything a person wrote, or who they are, is ciphertext: the only
-- plaintext columns are opaque random ids, short case codes, states and coarse times.

CREATE TABLE cases (
    id            TEXT PRIMARY KEY,            -- 128 random bits, hex; not derived from anything
    code          TEXT UNIQUE,                 -- short public code, given at submission
    status        TEXT NOT NULL CHECK (status IN
                    ('draft', 'submitted', 'claimed', 'approved', 'rejected', 'handed_off', 'closed')),
    pseudonym     BLOB UNIQUE,                 -- HMAC of the Telegram id; only while a draft
    wrapped_key   BLOB,                        -- case key under the master key (drafts, unsealed cases)
    receipt_hash  TEXT,                        -- Argon2id of the receipt secret
    triage        BLOB,                        -- triage answers under a master-derived key
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    submitted_at  INTEGER,
    CHECK (status <> 'draft' OR pseudonym IS NOT NULL),
    CHECK (status = 'draft' OR pseudonym IS NULL)
);

CREATE INDEX cases_status ON cases (status, updated_at);

-- One row per field of a case; the value is AES-256-GCM under the case key with the case id
-- and the field name as associated data, so a value copied to another row does not open.
CREATE TABLE case_fields (
    case_id  TEXT NOT NULL REFERENCES cases (id) ON DELETE CASCADE,
    name     TEXT NOT NULL,
    value    BLOB NOT NULL,
    PRIMARY KEY (case_id, name)
) WITHOUT ROWID;

-- Message ids of a conversation, kept so the applicant can wipe the chat; sealed under a
-- master-derived key and dropped once Telegram no longer lets a bot delete them (48 hours).
CREATE TABLE chat_traces (
    pseudonym   BLOB PRIMARY KEY,
    body        BLOB NOT NULL,
    expires_at  INTEGER NOT NULL
) WITHOUT ROWID;
