-- valv schema 0009: the last run of each background job (purging, the
-- daily full backup, shipping) for operators. Operational state: not
-- journaled, not part of any backup.

CREATE TABLE jobs (
    name     TEXT NOT NULL,
    row_json TEXT NOT NULL,
    CONSTRAINT jobs_pkey PRIMARY KEY (name)
);
