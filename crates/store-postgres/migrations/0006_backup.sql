-- valv schema 0006: backup bookkeeping. How far each backup target is, and
-- every full backup and restore drill with its outcome. Operational state:
-- not journaled, not part of any backup.

CREATE TABLE backup_targets (
    name       TEXT COLLATE "C" NOT NULL,
    row_json   TEXT NOT NULL,
    CONSTRAINT backup_targets_pkey PRIMARY KEY (name)
);

CREATE TABLE backup_runs (
    id         TEXT COLLATE "C" NOT NULL,
    started_at TEXT COLLATE "C" NOT NULL,
    row_json   TEXT NOT NULL,
    CONSTRAINT backup_runs_pkey PRIMARY KEY (id)
);
CREATE INDEX backup_runs_started_idx ON backup_runs (started_at);
