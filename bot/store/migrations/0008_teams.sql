-- Teams: a case is sealed only to the team it is routed to (its members, its leads, the leads
-- of every team) and the recovery key. Team names come from the config; NULL is the one team of
-- a setup without teams. A case's team is plain here, as the holders of its sealed copies would
-- name it anyway.

ALTER TABLE cases ADD COLUMN team TEXT;

-- The teams an invite enrols into, comma-separated; NULL: the default for its role.
ALTER TABLE invites ADD COLUMN teams TEXT;

-- Which teams a coordinator is in; '*' is a lead over every team. No row at all: the setup has
-- no teams (everyone is in the one team).
CREATE TABLE coordinator_teams (
    coordinator_id  TEXT NOT NULL REFERENCES coordinators (id) ON DELETE CASCADE,
    team            TEXT NOT NULL,
    PRIMARY KEY (coordinator_id, team)
) WITHOUT ROWID;

-- Whatever the caller believed, a copy of a case key goes only to someone in the case's team.
CREATE TRIGGER case_keys_team_only_insert
BEFORE INSERT ON case_keys
WHEN (SELECT team FROM cases WHERE id = NEW.case_id) IS NOT NULL
 AND EXISTS (SELECT 1 FROM coordinator_teams WHERE coordinator_id = NEW.coordinator_id)
 AND NOT EXISTS (
    SELECT 1 FROM coordinator_teams
    WHERE coordinator_id = NEW.coordinator_id
      AND team IN ('*', (SELECT team FROM cases WHERE id = NEW.case_id))
 )
BEGIN
    SELECT RAISE(ABORT, 'case keys are sealed to the case''s team only');
END;

CREATE TRIGGER case_keys_team_only_update
BEFORE UPDATE ON case_keys
WHEN (SELECT team FROM cases WHERE id = NEW.case_id) IS NOT NULL
 AND EXISTS (SELECT 1 FROM coordinator_teams WHERE coordinator_id = NEW.coordinator_id)
 AND NOT EXISTS (
    SELECT 1 FROM coordinator_teams
    WHERE coordinator_id = NEW.coordinator_id
      AND team IN ('*', (SELECT team FROM cases WHERE id = NEW.case_id))
 )
BEGIN
    SELECT RAISE(ABORT, 'case keys are sealed to the case''s team only');
END;
