-- valv schema 0001: tenants, users, operators, tokens, the journal, and
-- the ephemeral security state (sessions, throttles, setup token).
-- Journaled entities keep their full row image as JSON text beside the columns
-- that are looked up or constrained; constraints are named for error mapping,
-- with the names the SQLite backend reports.
-- Keys and looked-up text use the "C" collation: bytewise order and equality
-- as in SQLite, so lists and dumps (and their digests) come in the same order
-- whatever the database's locale.
-- Foreign keys are DEFERRABLE: checked at once, except where a restore defers
-- them to its commit (a dump may hold a user before its tenant).

CREATE TABLE tenants (
    id        TEXT COLLATE "C" NOT NULL,
    slug      TEXT COLLATE "C" NOT NULL,
    row_json  TEXT NOT NULL,
    CONSTRAINT tenants_pkey PRIMARY KEY (id),
    CONSTRAINT tenants_slug_key UNIQUE (slug)
);

CREATE TABLE users (
    id         TEXT COLLATE "C" NOT NULL,
    tenant_id  TEXT COLLATE "C" NOT NULL,
    email_norm TEXT COLLATE "C" NOT NULL,
    row_json   TEXT NOT NULL,
    CONSTRAINT users_pkey PRIMARY KEY (id),
    CONSTRAINT users_tenant_fkey FOREIGN KEY (tenant_id) REFERENCES tenants (id) DEFERRABLE INITIALLY IMMEDIATE,
    CONSTRAINT users_tenant_email_key UNIQUE (tenant_id, email_norm)
);

CREATE TABLE operators (
    id         TEXT COLLATE "C" NOT NULL,
    email_norm TEXT COLLATE "C" NOT NULL,
    row_json   TEXT NOT NULL,
    CONSTRAINT operators_pkey PRIMARY KEY (id),
    CONSTRAINT operators_email_key UNIQUE (email_norm)
);

CREATE TABLE tokens (
    id        TEXT COLLATE "C" NOT NULL,
    tenant_id TEXT COLLATE "C" NOT NULL,
    user_id   TEXT COLLATE "C" NOT NULL,
    row_json  TEXT NOT NULL,
    CONSTRAINT tokens_pkey PRIMARY KEY (id),
    CONSTRAINT tokens_user_fkey FOREIGN KEY (user_id) REFERENCES users (id) DEFERRABLE INITIALLY IMMEDIATE
);
CREATE INDEX tokens_tenant_user_idx ON tokens (tenant_id, user_id);

CREATE TABLE journal (
    seq          BIGINT NOT NULL,
    chain        TEXT COLLATE "C" NOT NULL,
    chain_seq    BIGINT NOT NULL,
    at           TEXT COLLATE "C" NOT NULL,
    actor        TEXT COLLATE "C" NOT NULL,
    action       TEXT COLLATE "C" NOT NULL,
    entity       TEXT COLLATE "C" NOT NULL,
    entity_id    TEXT COLLATE "C" NOT NULL,
    payload      BYTEA,
    payload_hash TEXT NOT NULL,
    prev_hash    TEXT NOT NULL,
    hash         TEXT NOT NULL,
    CONSTRAINT journal_pkey PRIMARY KEY (seq),
    CONSTRAINT journal_chain_seq_key UNIQUE (chain, chain_seq)
);

CREATE TABLE journal_heads (
    chain     TEXT COLLATE "C" NOT NULL,
    chain_seq BIGINT NOT NULL,
    hash      TEXT NOT NULL,
    CONSTRAINT journal_heads_pkey PRIMARY KEY (chain)
);

CREATE TABLE sessions (
    id              TEXT COLLATE "C" NOT NULL,
    secret_digest   TEXT NOT NULL,
    kind            TEXT NOT NULL,
    tenant_id       TEXT COLLATE "C",
    subject_id      TEXT COLLATE "C" NOT NULL,
    complete        BOOLEAN NOT NULL,
    created_at      TEXT NOT NULL,
    expires_at      TEXT NOT NULL,
    code_digest     TEXT,
    code_expires_at TEXT,
    code_failures   BIGINT NOT NULL,
    CONSTRAINT sessions_pkey PRIMARY KEY (id)
);
CREATE INDEX sessions_subject_idx ON sessions (subject_id);

CREATE TABLE throttles (
    key          TEXT COLLATE "C" NOT NULL,
    failures     BIGINT NOT NULL,
    locked_until TEXT,
    CONSTRAINT throttles_pkey PRIMARY KEY (key)
);

CREATE TABLE setup_token (
    id     INTEGER NOT NULL,
    digest TEXT NOT NULL,
    CONSTRAINT setup_token_pkey PRIMARY KEY (id),
    CONSTRAINT setup_token_single CHECK (id = 1)
);
