-- valv schema 0004: erasure (GDPR Art. 17). Journal payloads about an erased
-- subject are blanked and marked with the erasure that blanked them; the
-- erasure ledger records every erasure so restores can re-apply it.

ALTER TABLE journal ADD COLUMN erased_by TEXT;

CREATE TABLE erasure_ledger (
    id        TEXT COLLATE "C" NOT NULL,
    tenant_id TEXT COLLATE "C" NOT NULL,
    at        TEXT COLLATE "C" NOT NULL,
    row_json  TEXT NOT NULL,
    CONSTRAINT erasure_ledger_pkey PRIMARY KEY (id)
);
CREATE INDEX erasure_ledger_tenant_idx ON erasure_ledger (tenant_id, at);

-- Data-subject requests and their deadlines (Art. 12(3)).
CREATE TABLE requests (
    id        TEXT COLLATE "C" NOT NULL,
    tenant_id TEXT COLLATE "C" NOT NULL,
    row_json  TEXT NOT NULL,
    CONSTRAINT requests_pkey PRIMARY KEY (id),
    CONSTRAINT requests_tenant_fkey FOREIGN KEY (tenant_id) REFERENCES tenants (id) DEFERRABLE INITIALLY IMMEDIATE
);
CREATE INDEX requests_tenant_idx ON requests (tenant_id, id);
