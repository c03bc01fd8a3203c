-- valv schema 0008: one index orders a collection's records by id, with
-- `deleted` in it, in place of the two of 0002 and 0007: listing live
-- records, paging through all of them and counting them (the per-collection
-- limit, checked at every insert) read it without touching the rows, and
-- every record write keeps one index fewer up to date.

DROP INDEX records_tenant_collection_idx;
DROP INDEX records_tenant_collection_id_idx;
CREATE INDEX records_tenant_collection_id_idx ON records (tenant_id, collection_id, id, deleted);
