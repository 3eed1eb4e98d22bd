-- Retention: when the team was last warned that a held case is about to be shredded, so the
-- warning goes out once per deadline. A case that moves on gets a new deadline (its
-- updated_at passes this time) and may be warned again.

ALTER TABLE cases ADD COLUMN expiry_warned_at INTEGER;
