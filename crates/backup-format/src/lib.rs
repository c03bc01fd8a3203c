//! The store-independent core of valv's backups (DESIGN.md, The journal; Keys
//! and erasure): how a backup object is sealed, how a target is written to,
//! what retention keeps and when the full backup runs. Reading the live store
//! and restoring into it happen elsewhere; this crate holds no database code.
//!
//! Layout on every target (a local folder or an S3-compatible bucket):
//!
//! - `keyring`: the wrapped tenant keys, sealed, rewritten in place. It is the
//!   one object that is never versioned, so destroying a tenant key makes every
//!   copy of that tenant's data in every backup unreadable at once.
//! - `chunks/{tenant}/{xx}/{id}`: file chunks, copied exactly as sealed in the
//!   live chunk store. Chunks are immutable, so copying is "write what is
//!   missing" ([`Target::put_if_absent`]).
//! - `segments/{first_seq:020}-{last_seq:020}`: journal entries, shipped within
//!   about a second of being written, as [`codec`] objects.
//! - `snapshots/{seq:020}/...`: full backups as of journal entry `seq`, as
//!   [`codec`] objects.
//!
//! Every sealed object binds its own name, so an object moved or swapped on
//! the target fails to open instead of restoring the wrong data.

pub mod codec;
pub mod compaction;
pub mod retention;
pub mod schedule;
pub mod target;

pub use codec::{MAX_PART, PROVIDER, Part, PartStream, SealedPart, open, seal};
pub use retention::{Plan, Policy, SegmentInfo, SnapshotInfo};
pub use schedule::Schedule;
pub use target::Target;

/// Why a backup object could not be sealed or opened. Messages never carry
/// key material or the object's bytes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodecError {
    /// A part belongs to a tenant whose key is not in the keyring: the tenant
    /// was ended and its key destroyed, or the keyring is out of date.
    #[error("no key for chain '{0}': the tenant's key was destroyed or the keyring is out of date")]
    NoKey(String),
    /// The object (or one part of it) failed authentication, decoding or
    /// decompression: it was changed, truncated, renamed, or sealed with
    /// another key.
    #[error("the backup object is damaged, was renamed, or was sealed with another key; use another target or backup")]
    Damaged,
    /// A part or chain name is larger than a backup object can hold.
    #[error("a backup part is too large: chain names hold at most 65,535 bytes and parts at most 1 GiB")]
    TooLarge,
    /// zstd could not compress a part; it fails only when out of memory.
    #[error("a backup part could not be compressed: {0}")]
    Compression(String),
}

/// Why an operation on a backup target failed. Messages name the target and
/// what to check, never the URL (which may carry a secret key).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    /// The target's URL could not be understood or its client not configured.
    #[error("backup target '{target}' cannot be opened: {reason}")]
    Open {
        /// The target's name from the configuration.
        target: String,
        /// What is wrong, without the URL.
        reason: String,
    },
    /// An object path that the object store refuses (empty parts, `..`).
    #[error("backup target '{target}': '{path}' is not a valid object path")]
    InvalidPath {
        /// The target's name.
        target: String,
        /// The refused path.
        path: String,
    },
    /// The target did not answer in time.
    #[error("backup target '{target}' ({description}) did not answer within {after:?}; check that it is reachable")]
    TimedOut {
        /// The target's name.
        target: String,
        /// The folder or bucket.
        description: String,
        /// The time limit that passed.
        after: std::time::Duration,
    },
    /// The target answered with an error.
    #[error(
        "backup target '{target}' ({description}) could not {operation}: {message}; \
         check that it is reachable, writable and has space"
    )]
    Failed {
        /// The target's name.
        target: String,
        /// The folder or bucket.
        description: String,
        /// What was being done, as in "write segments/...".
        operation: String,
        /// The object store's error.
        message: String,
    },
}

/// Why a backup schedule was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    /// The cron expression could not be parsed, or never fires.
    #[error(
        "invalid backup schedule '{expression}': {problem}; give five cron fields in UTC \
         (minute hour day-of-month month day-of-week), e.g. '0 15 * * *' for every day at 15:00"
    )]
    Invalid {
        /// The expression as given (cut to 64 characters).
        expression: String,
        /// What is wrong with it.
        problem: String,
    },
}
