//! Typed values and rules of valv: identifiers, e-mail addresses, phone numbers,
//! names, roles and the injected clock. Everything here is pure: no I/O.
//!
//! Values are parsed, not validated (STYLE.md): a value of one of these types is
//! known to be well formed, so the layers above never check it again.

mod clock;
pub mod deadline;
pub mod files;
mod ids;
mod invalid;
mod role;
pub mod schema;
mod stamp;
mod text;
pub mod whole;

pub use clock::{Clock, ManualClock, SystemClock};
pub use deadline::{DeadlineError, DeadlineStatus, RequestDeadline, add_months};
pub use ids::{CollectionId, FileId, OperatorId, RecordId, TenantId, TokenId, UserId};
pub use invalid::Invalid;
pub use role::{Role, UserStatus};
pub use stamp::{parse_stamp, stamp};
pub use text::{Email, PersonName, Phone, Slug, TenantName};
