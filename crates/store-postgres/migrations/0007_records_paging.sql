-- valv schema 0007: page through all records of a collection, deleted ones
-- included (export, erasure), in id order without sorting: the index of 0002
-- has `deleted` before `id`, so such a page sorted the whole collection.

CREATE INDEX records_tenant_collection_id_idx ON records (tenant_id, collection_id, id);
