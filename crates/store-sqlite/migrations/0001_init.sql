-- valv schema 0001: tenants, users, operators, tokens, the journal, and
-- the ephemeral security state (sessions, throttles, setup token).
-- Journaled entities keep their full row image as JSON beside the columns that
-- are looked up or constrained; constraints are named for error mapping.

CREATE TABLE tenants (
    id        TEXT NOT NULL,
    slug      TEXT NOT NULL,
    row_json  TEXT NOT NULL,
    CONSTRAINT tenants_pkey PRIMARY KEY (id),
    CONSTRAINT tenants_slug_key UNIQUE (slug)
);

CREATE TABLE users (
    id         TEXT NOT NULL,
    tenant_id  TEXT NOT NULL,
    email_norm TEXT NOT NULL,
    row_json   TEXT NOT NULL,
    CONSTRAINT users_pkey PRIMARY KEY (id),
    CONSTRAINT users_tenant_fkey FOREIGN KEY (tenant_id) REFERENCES tenants (id),
    CONSTRAINT users_tenant_email_key UNIQUE (tenant_id, email_norm)
);

CREATE TABLE operators (
    id         TEXT NOT NULL,
    email_norm TEXT NOT NULL,
    row_json   TEXT NOT NULL,
    CONSTRAINT operators_pkey PRIMARY KEY (id),
    CONSTRAINT operators_email_key UNIQUE (email_norm)
);

CREATE TABLE tokens (
    id        TEXT NOT NULL,
    tenant_id TEXT NOT NULL,
    user_id   TEXT NOT NULL,
    row_json  TEXT NOT NULL,
    CONSTRAINT tokens_pkey PRIMARY KEY (id),
    CONSTRAINT tokens_user_fkey FOREIGN KEY (user_id) REFERENCES users (id)
);
CREATE INDEX tokens_tenant_user_idx ON tokens (tenant_id, user_id);

CREATE TABLE journal (
    seq          INTEGER NOT NULL,
    chain        TEXT NOT NULL,
    chain_seq    INTEGER NOT NULL,
    at           TEXT NOT NULL,
    actor        TEXT NOT NULL,
    action       TEXT NOT NULL,
    entity       TEXT NOT NULL,
    entity_id    TEXT NOT NULL,
    payload      BLOB,
    payload_hash TEXT NOT NULL,
    prev_hash    TEXT NOT NULL,
    hash         TEXT NOT NULL,
    CONSTRAINT journal_pkey PRIMARY KEY (seq),
    CONSTRAINT journal_chain_seq_key UNIQUE (chain, chain_seq)
);

CREATE TABLE journal_heads (
    chain     TEXT NOT NULL,
    chain_seq INTEGER NOT NULL,
    hash      TEXT NOT NULL,
    CONSTRAINT journal_heads_pkey PRIMARY KEY (chain)
);

CREATE TABLE sessions (
    id              TEXT NOT NULL,
    secret_digest   TEXT NOT NULL,
    kind            TEXT NOT NULL,
    tenant_id       TEXT,
    subject_id      TEXT NOT NULL,
    complete        INTEGER NOT NULL,
    created_at      TEXT NOT NULL,
    expires_at      TEXT NOT NULL,
    code_digest     TEXT,
    code_expires_at TEXT,
    code_failures   INTEGER NOT NULL,
    CONSTRAINT sessions_pkey PRIMARY KEY (id)
);
CREATE INDEX sessions_subject_idx ON sessions (subject_id);

CREATE TABLE throttles (
    key          TEXT NOT NULL,
    failures     INTEGER NOT NULL,
    locked_until TEXT,
    CONSTRAINT throttles_pkey PRIMARY KEY (key)
);

CREATE TABLE setup_token (
    id     INTEGER NOT NULL,
    digest TEXT NOT NULL,
    CONSTRAINT setup_token_pkey PRIMARY KEY (id),
    CONSTRAINT setup_token_single CHECK (id = 1)
);
