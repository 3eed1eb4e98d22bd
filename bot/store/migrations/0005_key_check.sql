-- A key check value: proof, readable only with the master key, of which master key this
-- database belongs to. Without it a wrong key is accepted at start-up and only shows later as
-- drafts that do not open and an audit chain that "fails" verification as if tampered with.
-- One row; a completed rotation replaces it with one under the new key. key_id is the public
-- fingerprint of the key (as in every blob's header), value a blob only that key opens.
CREATE TABLE key_check (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    key_id  TEXT NOT NULL,
    value   BLOB NOT NULL
);
