-- valv schema 0003: files and their immutable versions.

CREATE TABLE files (
    id        TEXT NOT NULL,
    tenant_id TEXT NOT NULL,
    folder    TEXT NOT NULL,
    name      TEXT NOT NULL,
    deleted   INTEGER NOT NULL,
    row_json  TEXT NOT NULL,
    CONSTRAINT files_pkey PRIMARY KEY (id),
    CONSTRAINT files_tenant_fkey FOREIGN KEY (tenant_id) REFERENCES tenants (id)
);
-- One live file per path; deleted files keep their history beside a new one.
CREATE UNIQUE INDEX files_tenant_path_key ON files (tenant_id, folder, name) WHERE deleted = 0;

CREATE TABLE file_versions (
    file_id   TEXT NOT NULL,
    version   INTEGER NOT NULL,
    tenant_id TEXT NOT NULL,
    size      INTEGER NOT NULL,
    row_json  TEXT NOT NULL,
    CONSTRAINT file_versions_pkey PRIMARY KEY (file_id, version),
    CONSTRAINT file_versions_file_fkey FOREIGN KEY (file_id) REFERENCES files (id)
);
CREATE INDEX file_versions_tenant_idx ON file_versions (tenant_id);
