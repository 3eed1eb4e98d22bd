-- Sealing: every submitted case key is also sealed to the organisation's recovery key, whose
-- private half is kept offline. With it, no case is ever left under the master key, not even
-- one sent before any coordinator enrolled.

ALTER TABLE cases ADD COLUMN recovery_key BLOB;
