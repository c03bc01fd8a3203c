//! Chunk store: see the crate description.
