-- valv schema 0011: rows sealed at rest (DESIGN.md, Sealed at rest). Each
-- row image moves to `image`, sealed with its owner's key; the e-mail,
-- collection name and file path columns hold blind indexes; a record's
-- `search` column holds what its queries look up (valv_store::search).
-- Rows written before this migration are sealed by `seal_stored` at start:
-- until then `image` holds their JSON text as UTF-8 bytes, which the vault
-- reads as it is. The indexes on record fields in clear are dropped before
-- (`migrate::drop_field_indexes`): the service indexes `search` instead.

ALTER TABLE tenants RENAME COLUMN row_json TO image;
ALTER TABLE tenants ALTER COLUMN image TYPE BYTEA USING convert_to(image, 'UTF8');
ALTER TABLE users RENAME COLUMN row_json TO image;
ALTER TABLE users ALTER COLUMN image TYPE BYTEA USING convert_to(image, 'UTF8');
ALTER TABLE operators RENAME COLUMN row_json TO image;
ALTER TABLE operators ALTER COLUMN image TYPE BYTEA USING convert_to(image, 'UTF8');
ALTER TABLE tokens RENAME COLUMN row_json TO image;
ALTER TABLE tokens ALTER COLUMN image TYPE BYTEA USING convert_to(image, 'UTF8');
ALTER TABLE collections RENAME COLUMN row_json TO image;
ALTER TABLE collections ALTER COLUMN image TYPE BYTEA USING convert_to(image, 'UTF8');
ALTER TABLE records RENAME COLUMN row_json TO image;
-- One rewrite of the largest table for both changes.
ALTER TABLE records
    ALTER COLUMN image TYPE BYTEA USING convert_to(image, 'UTF8'),
    ADD COLUMN search TEXT NOT NULL DEFAULT '{}';
ALTER TABLE files RENAME COLUMN row_json TO image;
ALTER TABLE files ALTER COLUMN image TYPE BYTEA USING convert_to(image, 'UTF8');
ALTER TABLE file_versions RENAME COLUMN row_json TO image;
ALTER TABLE file_versions ALTER COLUMN image TYPE BYTEA USING convert_to(image, 'UTF8');
ALTER TABLE requests RENAME COLUMN row_json TO image;
ALTER TABLE requests ALTER COLUMN image TYPE BYTEA USING convert_to(image, 'UTF8');

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
