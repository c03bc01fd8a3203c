//! What a journal entry records as done, as one enum. The journal stores
//! the dotted name (`user.blocked`); what an action means for the rest of
//! valv — that the keyring and the erasure ledger must be shipped again, that
//! replaying it deletes a tenant's rows — is a method with a `match` over
//! every action, so a new action cannot be added without deciding it.

use std::fmt;

/// Declares [`Action`] with its stored names, once.
macro_rules! actions {
    ($($(#[$doc:meta])* $variant:ident = $name:literal,)*) => {
        /// A journaled action.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Action {
            $($(#[$doc])* $variant,)*
        }

        impl Action {
            /// Every action.
            pub const ALL: &'static [Self] = &[$(Self::$variant,)*];

            /// The dotted name the journal stores.
            #[must_use]
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $name,)*
                }
            }
        }
    };
}

actions! {
    AuthSignedIn = "auth.signed_in",
    AuthSignInFailed = "auth.sign_in_failed",
    AuthPasswordVerified = "auth.password_verified",
    AuthSecondFactorFailed = "auth.second_factor_failed",
    AuthSignedOut = "auth.signed_out",
    AuthOperatorSignedIn = "auth.operator_signed_in",
    OperatorCreated = "operator.created",
    /// An operator was given a new authenticator secret (from the server's command line).
    OperatorTotpReset = "operator.totp_reset",
    TenantCreated = "tenant.created",
    TenantBlocked = "tenant.blocked",
    TenantUnblocked = "tenant.unblocked",
    TenantLimitsChanged = "tenant.limits_changed",
    TenantSecondFactorPolicyChanged = "tenant.second_factor_policy_changed",
    TenantTerminated = "tenant.terminated",
    /// The tenant's key was destroyed and its rows deleted after the export window.
    TenantPurged = "tenant.purged",
    /// In a restored copy of one tenant, another tenant was removed as a purge removes it.
    TenantLeftOutOfCopy = "tenant.left_out_of_copy",
    TenantExported = "tenant.exported",
    /// A tenant was created from an export archive (with a new key).
    TenantImported = "tenant.imported",
    TenantImportFinished = "tenant.import_finished",
    TenantRestored = "tenant.restored",
    UserCreated = "user.created",
    UserInvited = "user.invited",
    UserActivated = "user.activated",
    UserUpdated = "user.updated",
    UserBlocked = "user.blocked",
    UserUnblocked = "user.unblocked",
    UserImported = "user.imported",
    UserPasswordChanged = "user.password_changed",
    UserTotpEnrolmentStarted = "user.totp_enrolment_started",
    UserTotpEnabled = "user.totp_enabled",
    TokenCreated = "token.created",
    TokenRevoked = "token.revoked",
    CollectionCreated = "collection.created",
    CollectionUpdated = "collection.updated",
    CollectionImported = "collection.imported",
    CollectionRestored = "collection.restored",
    RecordCreated = "record.created",
    RecordUpdated = "record.updated",
    RecordDeleted = "record.deleted",
    RecordRestored = "record.restored",
    RecordImported = "record.imported",
    FileCreated = "file.created",
    FileVersionAdded = "file.version_added",
    FileDeleted = "file.deleted",
    FileRestored = "file.restored",
    FileImported = "file.imported",
    FileMalwareRefused = "file.malware_refused",
    RequestReceived = "request.received",
    RequestVerified = "request.verified",
    RequestExtended = "request.extended",
    RequestAnswered = "request.answered",
    /// A request never verified was forgotten: its address and message blanked (ledger grew).
    RequestExpired = "request.expired",
    SubjectAccessReport = "subject.access_report",
    /// A data subject was erased (GDPR Art. 17); the erasure ledger grew.
    SubjectErased = "subject.erased",
    SubjectErasureReapplied = "subject.erasure_reapplied",
}

/// What an action does beyond writing its rows and its entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// Nothing more.
    None,
    /// A key was made (a tenant's data key, or the provider key that seals
    /// operators' secrets): the keyring held by backup targets is out of date.
    KeyCreated,
    /// A tenant's key was destroyed and every row of the tenant deleted: a
    /// replay deletes them too, and the targets' keyring must lose the key.
    TenantRemoved,
    /// The erasure ledger grew: every target must hold the new ledger, which
    /// each restore re-applies.
    LedgerGrew,
}

impl Action {
    /// The action stored as `name`, if valv knows it.
    #[must_use]
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|a| a.as_str() == name)
    }

    /// What the action does beyond its rows and entry.
    #[must_use]
    pub const fn effect(self) -> Effect {
        match self {
            Self::TenantCreated | Self::TenantImported | Self::OperatorCreated => Effect::KeyCreated,
            Self::TenantPurged | Self::TenantLeftOutOfCopy => Effect::TenantRemoved,
            Self::SubjectErased | Self::RequestExpired => Effect::LedgerGrew,
            Self::AuthSignedIn
            | Self::AuthSignInFailed
            | Self::AuthPasswordVerified
            | Self::AuthSecondFactorFailed
            | Self::AuthSignedOut
            | Self::AuthOperatorSignedIn
            | Self::OperatorTotpReset
            | Self::TenantBlocked
            | Self::TenantUnblocked
            | Self::TenantLimitsChanged
            | Self::TenantSecondFactorPolicyChanged
            | Self::TenantTerminated
            | Self::TenantExported
            | Self::TenantImportFinished
            | Self::TenantRestored
            | Self::UserCreated
            | Self::UserInvited
            | Self::UserActivated
            | Self::UserUpdated
            | Self::UserBlocked
            | Self::UserUnblocked
            | Self::UserImported
            | Self::UserPasswordChanged
            | Self::UserTotpEnrolmentStarted
            | Self::UserTotpEnabled
            | Self::TokenCreated
            | Self::TokenRevoked
            | Self::CollectionCreated
            | Self::CollectionUpdated
            | Self::CollectionImported
            | Self::CollectionRestored
            | Self::RecordCreated
            | Self::RecordUpdated
            | Self::RecordDeleted
            | Self::RecordRestored
            | Self::RecordImported
            | Self::FileCreated
            | Self::FileVersionAdded
            | Self::FileDeleted
            | Self::FileRestored
            | Self::FileImported
            | Self::FileMalwareRefused
            | Self::RequestReceived
            | Self::RequestVerified
            | Self::RequestExtended
            | Self::RequestAnswered
            | Self::SubjectAccessReport
            | Self::SubjectErasureReapplied => Effect::None,
        }
    }

    /// Whether backup targets must receive the keyring and the erasure
    /// ledger again once this entry is shipped (DESIGN.md, Keys and erasure).
    #[must_use]
    pub const fn reships_keyring_and_ledger(self) -> bool {
        !matches!(self.effect(), Effect::None)
    }

    /// Whether replaying the entry deletes every row of the tenant it is about.
    #[must_use]
    pub const fn removes_tenant(self) -> bool {
        matches!(self.effect(), Effect::TenantRemoved)
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_action_has_one_dotted_name_that_parses_back() {
        let mut names = std::collections::HashSet::new();
        for a in Action::ALL {
            assert!(names.insert(a.as_str()), "{a:?} shares its name");
            assert!(a.as_str().split_once('.').is_some_and(|(l, r)| !l.is_empty() && !r.is_empty()), "{a:?}");
            assert_eq!(Action::parse(a.as_str()), Some(*a));
        }
        assert_eq!(Action::parse("user.exploded"), None);
    }

    #[test]
    fn key_and_ledger_changes_reship_the_keyring_and_only_removals_purge() {
        let reshipping: Vec<&str> =
            Action::ALL.iter().filter(|a| a.reships_keyring_and_ledger()).map(|a| a.as_str()).collect();
        assert_eq!(
            reshipping,
            [
                "operator.created",
                "tenant.created",
                "tenant.purged",
                "tenant.left_out_of_copy",
                "tenant.imported",
                "request.expired",
                "subject.erased"
            ]
        );
        let removing: Vec<&str> = Action::ALL.iter().filter(|a| a.removes_tenant()).map(|a| a.as_str()).collect();
        assert_eq!(removing, ["tenant.purged", "tenant.left_out_of_copy"]);
    }
}
