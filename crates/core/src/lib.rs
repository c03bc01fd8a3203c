//! The kernel of valv: what every business area builds on. The shared
//! [`Context`] (store, clock, sender, settings, keyring, blob store), the
//! [`Caller`] a use case is asked by, the [`ServiceError`] it answers with,
//! the message [`Sender`], the [`keyring::Keyring`] and the job abstraction
//! ([`jobs`]). Areas (`valv-privacy`, `valv-service`) each keep their own
//! type over a context, so an area's helpers stay private to it.

mod caller;
mod context;
mod error;
pub mod jobs;
pub mod keyring;
pub mod scan;
pub mod sender;
mod settings;
mod vault;
pub mod views;

pub use caller::{Caller, Via};
pub use context::Context;
pub use error::{FieldError, ServiceError, ServiceResult, retry_after_secs};
pub use sender::{Message, Recipient, Sender};
pub use settings::{Settings, ThrottlePolicy};
pub use views::{OperatorView, TenantView, TokenView, UserView};
