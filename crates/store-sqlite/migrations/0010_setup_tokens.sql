-- valv schema 0010: one setup token per process that printed one. With
-- several processes on one database each prints its own; the first used
-- takes them all, so one operator is created. Ephemeral, never journaled.

DROP TABLE setup_token;

CREATE TABLE setup_tokens (
    digest TEXT NOT NULL,
    CONSTRAINT setup_tokens_pkey PRIMARY KEY (digest)
);
