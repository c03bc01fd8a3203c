-- valv schema 0002: collections and records; journal lookup by entity
-- (revision history).

CREATE TABLE collections (
    id        TEXT COLLATE "C" NOT NULL,
    tenant_id TEXT COLLATE "C" NOT NULL,
    name      TEXT COLLATE "C" NOT NULL,
    row_json  TEXT NOT NULL,
    CONSTRAINT collections_pkey PRIMARY KEY (id),
    CONSTRAINT collections_tenant_fkey FOREIGN KEY (tenant_id) REFERENCES tenants (id) DEFERRABLE INITIALLY IMMEDIATE,
    CONSTRAINT collections_tenant_name_key UNIQUE (tenant_id, name)
);

CREATE TABLE records (
    id            TEXT COLLATE "C" NOT NULL,
    tenant_id     TEXT COLLATE "C" NOT NULL,
    collection_id TEXT COLLATE "C" NOT NULL,
    deleted       BOOLEAN NOT NULL,
    row_json      TEXT NOT NULL,
    CONSTRAINT records_pkey PRIMARY KEY (id),
    CONSTRAINT records_collection_fkey FOREIGN KEY (collection_id) REFERENCES collections (id)
        DEFERRABLE INITIALLY IMMEDIATE
);
CREATE INDEX records_tenant_collection_idx ON records (tenant_id, collection_id, deleted, id);

CREATE INDEX journal_entity_idx ON journal (chain, entity, entity_id, seq);
