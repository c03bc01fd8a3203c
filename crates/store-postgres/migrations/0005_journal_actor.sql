-- valv schema 0005: journal lookups by actor (a subject's own actions, GDPR Art. 15).
CREATE INDEX journal_chain_actor_idx ON journal (chain, actor, chain_seq);
