//! Privacy: what valv does for data subjects (GDPR). Find everything about a
//! person ([`subjects`]), give them their data (the Art. 15 extract, as data:
//! rendering it is the web side's), erase them (Art. 17) with an erasure
//! ledger every restore re-applies, and take and answer their requests
//! within one calendar month (Art. 12(3)). The register of processing,
//! retention and sub-processors will live here too (DESIGN.md).

mod access;
mod erase;
mod ledger;
mod reapply;
mod requests;
mod subjects;

use valv_core::Context;

pub use access::AccessReport;
pub use erase::ErasureReceipt;
pub use ledger::{Erased, ErasedKind};
pub use requests::{NewRequest, RequestView};
pub use subjects::{SubjectMatch, SubjectQuery, SubjectSearch};

/// The privacy use cases, on the shared context.
#[derive(Clone, Debug)]
pub struct Privacy {
    ctx: Context,
}

impl Privacy {
    #[must_use]
    pub fn new(ctx: Context) -> Self {
        Self { ctx }
    }
}
