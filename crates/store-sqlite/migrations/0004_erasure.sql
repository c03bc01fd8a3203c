-- valv schema 0004: erasure (GDPR Art. 17). Journal payloads about an erased
-- subject are blanked and marked with the erasure that blanked them; the
-- erasure ledger records every erasure so restores can re-apply it.

ALTER TABLE journal ADD COLUMN erased_by TEXT;

CREATE TABLE erasure_ledger (
    id        TEXT NOT NULL,
    tenant_id TEXT NOT NULL,
    at        TEXT NOT NULL,
    row_json  TEXT NOT NULL,
    CONSTRAINT erasure_ledger_pkey PRIMARY KEY (id)
);
CREATE INDEX erasure_ledger_tenant_idx ON erasure_ledger (tenant_id, at);
