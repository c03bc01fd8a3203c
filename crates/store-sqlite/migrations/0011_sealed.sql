-- valv schema 0011: rows sealed at rest (DESIGN.md, Sealed at rest). Each
-- row image moves to `image`, sealed with its owner's key; the e-mail,
-- collection name and file path columns hold blind indexes; a record's
-- `search` column holds what its queries look up (valv_store::search).
-- Rows written before this migration are sealed by `seal_stored` at start.

ALTER TABLE tenants RENAME COLUMN row_json TO image;
ALTER TABLE users RENAME COLUMN row_json TO image;
ALTER TABLE operators RENAME COLUMN row_json TO image;
ALTER TABLE tokens RENAME COLUMN row_json TO image;
ALTER TABLE collections RENAME COLUMN row_json TO image;
ALTER TABLE records RENAME COLUMN row_json TO image;
ALTER TABLE files RENAME COLUMN row_json TO image;
ALTER TABLE file_versions RENAME COLUMN row_json TO image;
ALTER TABLE requests RENAME COLUMN row_json TO image;
ALTER TABLE records ADD COLUMN search TEXT NOT NULL DEFAULT '{}';

-- Throttles name e-mail addresses and networks: from now on each key is
-- stored as a blind index, beside that of its address for an erasure to
-- forget it. The counts in clear go (they last minutes to a day).
DELETE FROM throttles;
ALTER TABLE throttles ADD COLUMN subject TEXT NOT NULL DEFAULT '';
CREATE INDEX throttles_subject_idx ON throttles (subject);

-- A database with nothing in it yet has nothing to seal.
INSERT INTO schema_migrations (name)
SELECT '0011_sealed_rows'
WHERE NOT EXISTS (SELECT 1 FROM tenants) AND NOT EXISTS (SELECT 1 FROM operators)
  AND NOT EXISTS (SELECT 1 FROM journal);
