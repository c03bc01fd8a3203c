//! The business areas of the service layer, each its own type: a view of
//! the facade ([`Valv`]) through which its use cases are called, so that
//! `valv.records()`'s helpers are not `valv.backups()`'s and a call from one
//! area into another says so (`self.content().live_file(…)`). Privacy is a
//! crate of its own (`valv.privacy()`).

use std::ops::Deref;

use crate::Valv;

macro_rules! area {
    ($(#[$doc:meta])* $name:ident, $accessor:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy)]
        pub struct $name<'a>(&'a Valv);

        impl Deref for $name<'_> {
            type Target = Valv;

            fn deref(&self) -> &Valv {
                self.0
            }
        }

        impl std::fmt::Debug for $name<'_> {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(stringify!($name))
            }
        }

        impl Valv {
            $(#[$doc])*
            #[must_use]
            pub fn $accessor(&self) -> $name<'_> {
                $name(self)
            }
        }
    };
}

area!(
    /// Accounts: tenants and their lifecycle, operators, users, sign-in
    /// with a second factor, sessions and API tokens.
    Accounts,
    accounts
);
area!(
    /// Content: collections, records with every revision, files with every version.
    Content,
    content
);
area!(
    /// Portability: the export of all of a tenant's data and its import.
    Portability,
    portability
);
area!(
    /// Backups: shipping, full backups, drills, pruning and every kind of restore.
    Backups,
    backups
);
