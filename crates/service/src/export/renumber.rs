//! Fresh ids for a tenant copied beside its original (`valv restore --tenant
//! ID --as SLUG`): every id of the live installation is a primary key of its
//! table, so the copy's users, collections, records and files need ids of
//! their own. A new id is derived from the old one: the first 48 bits (the
//! UUIDv7 timestamp, RFC 9562 §5.7) are kept, so the copy sorts as the
//! original did, and the rest comes from SHA-256 over a random salt and the
//! old id. Being a function of the old id, a reference to a record later in
//! the archive is renumbered before that record arrives, with no table of
//! every id in memory.

use serde_json::Value;
use sha2::{Digest as _, Sha256};
use uuid::Uuid;
use valv_domain::schema::{FieldDef, FieldType};
use valv_domain::{Slug, TenantId};

/// How an import turns a tenant into a copy of it.
#[derive(Debug, Clone)]
pub struct Renumber {
    /// Random per copy, so two copies of one tenant never share an id.
    salt: String,
    /// The copy's id (fresh) and slug (the original keeps its own).
    pub tenant: TenantId,
    pub slug: Slug,
    /// The instant the copy shows, named in its journal.
    pub as_of: String,
}

impl Renumber {
    #[must_use]
    pub fn new(slug: Slug, as_of: String) -> Self {
        Self { salt: valv_crypto::token::random(32), tenant: TenantId::new(), slug, as_of }
    }

    /// The copy's id for the original's `old`.
    #[must_use]
    pub fn uuid(&self, old: Uuid) -> Uuid {
        let digest = Sha256::new().chain_update(self.salt.as_bytes()).chain_update(old.as_bytes()).finalize();
        let mut bytes = *old.as_bytes();
        bytes[6..].copy_from_slice(&digest[..10]);
        uuid::Builder::from_bytes(bytes)
            .with_version(uuid::Version::SortRand)
            .with_variant(uuid::Variant::RFC4122)
            .into_uuid()
    }

    /// An actor as the journal and rows name it: users are renumbered; the
    /// provider's actors (operators, the CLI, valv itself) stay.
    #[must_use]
    pub fn actor(&self, actor: &str) -> String {
        match actor.strip_prefix("user:").and_then(|id| Uuid::parse_str(id).ok()) {
            Some(id) => format!("user:{}", self.uuid(id)),
            None => actor.to_owned(),
        }
    }

    /// Renumbers the values of reference and file fields in a record's data.
    pub fn data(&self, fields: &[FieldDef], data: &mut Value) {
        let Value::Object(map) = data else { return };
        for f in fields.iter().filter(|f| matches!(f.kind, FieldType::Reference { .. } | FieldType::File)) {
            if let Some(v) = map.get_mut(&f.name)
                && let Some(id) = v.as_str().and_then(|s| Uuid::parse_str(s).ok())
            {
                *v = Value::String(self.uuid(id).to_string());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn renumber() -> Renumber {
        Renumber::new(Slug::parse("acme-copy").expect("slug"), "2026-11-23T14:05:00Z".into())
    }

    proptest! {
        /// New ids are v7, keep the order of the old ones' timestamps, and
        /// the same old id always gives the same new one.
        #[test]
        fn ids_stay_v7_sorted_and_stable(a in any::<u128>(), b in any::<u128>()) {
            let r = renumber();
            let v7 = |n: u128| uuid::Builder::from_u128(n).with_version(uuid::Version::SortRand).into_uuid();
            let (a, b) = (v7(a), v7(b));
            let (na, nb) = (r.uuid(a), r.uuid(b));
            prop_assert_eq!(na.get_version(), Some(uuid::Version::SortRand));
            prop_assert_eq!(&na.as_bytes()[..6], &a.as_bytes()[..6]);
            prop_assert_ne!(na, a);
            prop_assert_eq!(r.uuid(a), na);
            if a.as_bytes()[..6] < b.as_bytes()[..6] {
                prop_assert!(na < nb);
            }
            if a != b {
                prop_assert_ne!(na, nb);
            }
        }
    }

    #[test]
    fn two_copies_never_share_ids() {
        let id = Uuid::now_v7();
        assert_ne!(renumber().uuid(id), renumber().uuid(id));
    }

    #[test]
    fn references_files_and_user_actors_are_renumbered_other_values_not() {
        let r = renumber();
        let fields: Vec<FieldDef> = serde_json::from_value(serde_json::json!([
            { "name": "customer", "type": "reference", "collection": "customers" },
            { "name": "contract", "type": "file" },
            { "name": "note", "type": "text" }
        ]))
        .expect("fields");
        let (customer, contract, note) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
        let mut data = serde_json::json!({
            "customer": customer.to_string(), "contract": contract.to_string(), "note": note.to_string()
        });
        r.data(&fields, &mut data);
        assert_eq!(data["customer"], r.uuid(customer).to_string());
        assert_eq!(data["contract"], r.uuid(contract).to_string());
        assert_eq!(data["note"], note.to_string(), "a text field keeps its value, even one that looks like an id");
        let user = Uuid::now_v7();
        assert_eq!(r.actor(&format!("user:{user}")), format!("user:{}", r.uuid(user)));
        assert_eq!(r.actor("cli"), "cli");
        let op = format!("operator:{user}");
        assert_eq!(r.actor(&op), op);
    }
}
