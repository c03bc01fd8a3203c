//! Cryptography of valv: password hashing and the password policy, random
//! tokens and their digests, TOTP second factors, and the journal's hash chain.
//!
//! Nothing here does I/O; every function that needs the time takes it as an
//! argument, so callers pass the injected clock's reading.

pub mod chain;
pub mod keyring;
pub mod password;
pub mod policy;
pub mod seal;
pub mod token;
pub mod totp;
