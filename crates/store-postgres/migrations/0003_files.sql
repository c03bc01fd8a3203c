-- valv schema 0003: files and their immutable versions.

CREATE TABLE files (
    id        TEXT COLLATE "C" NOT NULL,
    tenant_id TEXT COLLATE "C" NOT NULL,
    folder    TEXT COLLATE "C" NOT NULL,
    name      TEXT COLLATE "C" NOT NULL,
    deleted   BOOLEAN NOT NULL,
    row_json  TEXT NOT NULL,
    CONSTRAINT files_pkey PRIMARY KEY (id),
    CONSTRAINT files_tenant_fkey FOREIGN KEY (tenant_id) REFERENCES tenants (id) DEFERRABLE INITIALLY IMMEDIATE
);
-- One live file per path; deleted files keep their history beside a new one.
CREATE UNIQUE INDEX files_tenant_path_key ON files (tenant_id, folder, name) WHERE NOT deleted;

CREATE TABLE file_versions (
    file_id   TEXT COLLATE "C" NOT NULL,
    version   BIGINT NOT NULL,
    tenant_id TEXT COLLATE "C" NOT NULL,
    size      BIGINT NOT NULL,
    row_json  TEXT NOT NULL,
    CONSTRAINT file_versions_pkey PRIMARY KEY (file_id, version),
    CONSTRAINT file_versions_file_fkey FOREIGN KEY (file_id) REFERENCES files (id) DEFERRABLE INITIALLY IMMEDIATE
);
CREATE INDEX file_versions_tenant_idx ON file_versions (tenant_id);
