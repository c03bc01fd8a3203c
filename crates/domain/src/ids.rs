//! Identifiers: UUIDs (v7, so they sort by creation) wrapped in one type per
//! entity, so a `UserId` can never be passed where a `TenantId` is expected.

use crate::Invalid;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        #[serde(transparent)]
        pub struct $name(uuid::Uuid);

        impl $name {
            /// A fresh identifier.
            #[must_use]
            pub fn new() -> Self {
                Self(uuid::Uuid::now_v7())
            }

            /// Parses the textual (hyphenated) form.
            ///
            /// # Errors
            /// When `s` is not a UUID.
            pub fn parse(s: &str) -> Result<Self, Invalid> {
                uuid::Uuid::parse_str(s)
                    .map(Self)
                    .map_err(|_| Invalid::new("id", "is not a valid identifier"))
            }

            #[must_use]
            pub const fn from_uuid(u: uuid::Uuid) -> Self {
                Self(u)
            }

            #[must_use]
            pub const fn as_uuid(&self) -> uuid::Uuid {
                self.0
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

id_type!(
    /// A customer organisation.
    TenantId
);
id_type!(
    /// A user account inside one tenant.
    UserId
);
id_type!(
    /// A provider-side operator account.
    OperatorId
);
id_type!(
    /// An API token.
    TokenId
);
id_type!(
    /// A collection (record type) of one tenant.
    CollectionId
);
id_type!(
    /// A record.
    RecordId
);
id_type!(
    /// A file (all of its versions).
    FileId
);
