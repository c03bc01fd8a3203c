//! The data-subject request workflow (GDPR Art. 12): a subject files a
//! request through a public endpoint and proves their address by a link sent
//! to it; the answer is due one calendar month after receipt (computed in UTC,
//! `valv_domain::deadline`), extendable by up to two months with a recorded
//! reason, only before the first month ends (Art. 12(3)). Overdue and
//! nearly-due requests are listed. Every step is a journal entry.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};
use sha2::Digest as _;
use time::Duration;
use utoipa::ToSchema;
use valv_crypto::token;
use valv_domain::{DeadlineStatus, Email, RequestDeadline, Slug, TenantId, stamp};
use valv_store::{Action, Actor, Chain, Change, RequestRow, Row};

use crate::ledger::{Erased, ErasedKind, LedgerEntry};
use crate::subjects::SubjectQuery;
use valv_core::{Caller, Message, Recipient, ServiceError, ServiceResult};

use crate::Privacy;

/// Requests due within this are listed as due soon.
const WARN_BEFORE: Duration = Duration::days(7);

/// How long a request waits for its address to be confirmed before it is
/// forgotten (review L9): whoever filed it never proved the address theirs.
const UNVERIFIED_KEPT: Duration = Duration::days(7);

/// A request as a data subject files it.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewRequest {
    /// `access` (Art. 15), `portability` (Art. 20) or `erasure` (Art. 17).
    #[schema(pattern = "^(access|portability|erasure)$")]
    pub kind: String,
    #[schema(format = Email)]
    pub email: String,
    #[schema(max_length = 2000)]
    pub message: Option<String>,
}

/// A request as the organisation sees it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RequestView {
    pub id: String,
    pub kind: String,
    pub email: String,
    pub message: String,
    pub status: String,
    pub verified: bool,
    pub received_at: String,
    pub due: String,
    pub first_month_ends: String,
    pub extended_by_months: u8,
    pub extension_reason: Option<String>,
    /// `open`, `due_soon` or `overdue` (answered requests: `open`).
    pub deadline: String,
    pub answered_at: Option<String>,
    /// The answer: the erasure receipt; for access and portability the
    /// extract in the answering call's reply only, its receipt (`sent`,
    /// `sha256`, `bytes`, counts) afterwards.
    #[schema(value_type = Option<Object>)]
    pub response: Option<serde_json::Value>,
}

impl Privacy {
    fn request_view(&self, r: &RequestRow) -> RequestView {
        let state = match (r.answered_at, r.deadline.status(self.ctx.now(), WARN_BEFORE)) {
            (Some(_), _) | (None, DeadlineStatus::Open) => "open",
            (None, DeadlineStatus::DueSoon) => "due_soon",
            (None, DeadlineStatus::Overdue) => "overdue",
        };
        RequestView {
            id: r.id.clone(),
            kind: r.kind.clone(),
            email: r.email.clone(),
            message: r.message.clone(),
            status: r.status.clone(),
            verified: r.verified_at.is_some(),
            received_at: stamp(r.deadline.received_at),
            due: stamp(r.deadline.due()),
            first_month_ends: stamp(r.deadline.first_month_ends()),
            extended_by_months: r.deadline.extended_by,
            extension_reason: r.extension_reason.clone(),
            deadline: state.into(),
            answered_at: r.answered_at.map(stamp),
            response: r.response.clone(),
        }
    }

    async fn save_request(&self, actor: Actor, action: Action, r: &RequestRow) -> ServiceResult<()> {
        let change = Change::new(Chain::Tenant(r.tenant_id), self.ctx.now(), actor, action)
            .about("request", &r.id)
            .row(Row::Request(r.clone()));
        self.ctx.store.commit(change).await?;
        Ok(())
    }

    /// Files a request for the organisation `slug` and mails a verification link.
    ///
    /// # Errors
    /// Invalid kind or e-mail address; `rate_limited` past 10 filings an hour
    /// from one address, or 3 a day to one e-mail address (the form must not
    /// become a way to flood a mailbox). An unknown organisation is answered
    /// as a known one.
    pub async fn file_request(&self, slug: &str, new: NewRequest, client: IpAddr) -> ServiceResult<String> {
        if !["access", "portability", "erasure"].contains(&new.kind.as_str()) {
            return Err(ServiceError::field("kind", "invalid_kind", "kind must be access, portability or erasure"));
        }
        let email = Email::parse(&new.email).map_err(|e| ServiceError::field("email", "invalid_email", e.reason))?;
        let message = new.message.unwrap_or_default();
        if message.chars().count() > 2000 {
            return Err(ServiceError::field("message", "message_too_long", "a message may hold 2,000 characters"));
        }
        self.ctx.rate_limit(&format!("requests:address:{client}"), 10, Duration::HOUR).await?;
        self.ctx.rate_limit(&format!("requests:email:{}", email.normalized()), 3, Duration::DAY).await?;
        let tenant = match Slug::parse(slug) {
            Ok(s) => self.ctx.store.tenant_by_slug(&s).await?.filter(|t| t.purged_at.is_none()),
            Err(_) => None,
        };
        // Review L9: an unknown organisation gets the same answer as a known
        // one (nothing is stored or sent), so the form does not list slugs.
        let Some(t) = tenant else { return Ok(uuid::Uuid::now_v7().to_string()) };
        let secret = token::random(32);
        let r = RequestRow {
            id: uuid::Uuid::now_v7().to_string(),
            tenant_id: t.id,
            kind: new.kind,
            email: email.to_string(),
            message,
            deadline: RequestDeadline::new(self.ctx.now()),
            extension_reason: None,
            verification_digest: Some(token::digest(&secret)),
            verified_at: None,
            status: "awaiting_verification".into(),
            answered_at: None,
            response: None,
        };
        self.save_request(Actor::Anonymous, Action::RequestReceived, &r).await?;
        let code = format!("{}.{}.{secret}", t.id, r.id);
        let base = self.ctx.settings.public_url.trim_end_matches('/');
        // The code is also the message's last line, for those who open the page by hand.
        let body = format!(
            "We received your {} request to {}. Confirm that this address is yours on this page:\n\
             {base}/privacy/verify?code={code}\n\nIf the link does not open, go to {base}/privacy/verify \
             and enter this code:\n{code}\n",
            r.kind, t.name
        );
        let msg = Message { to: Recipient::Email(email), subject: format!("Confirm your request to {}", t.name), body };
        if let Err(e) = self.ctx.sender.send(msg).await {
            tracing::warn!(request = %r.id, error = %e, "verification message not delivered");
        }
        Ok(r.id)
    }

    /// Confirms the subject's address with the code sent to it.
    ///
    /// # Errors
    /// `verification_invalid` for unknown or used codes.
    pub async fn verify_request(&self, code: &str) -> ServiceResult<()> {
        let invalid = || ServiceError::Unauthenticated {
            code: "verification_invalid",
            message: "the code is unknown or was already used",
        };
        let mut parts = code.trim().splitn(3, '.');
        let (Some(t), Some(id), Some(secret)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(invalid());
        };
        let tenant = TenantId::parse(t).map_err(|_| invalid())?;
        let mut r = self.ctx.store.request(tenant, id).await?.ok_or_else(invalid)?;
        let ok = r.verification_digest.as_deref().is_some_and(|d| token::digest_eq(d, &token::digest(secret)));
        if !ok {
            return Err(invalid());
        }
        r.verification_digest = None;
        r.verified_at = Some(self.ctx.now());
        r.status = "open".into();
        self.save_request(Actor::Anonymous, Action::RequestVerified, &r).await
    }

    /// The tenant's requests; `deadline` filters on `open`, `due_soon` or `overdue`.
    ///
    /// # Errors
    /// `Forbidden` unless owner/admin.
    pub async fn requests(&self, caller: &Caller, deadline: Option<&str>) -> ServiceResult<Vec<RequestView>> {
        let (tenant, _) = caller.admin()?;
        let all = self.ctx.store.requests(tenant).await?;
        Ok(all
            .iter()
            .map(|r| self.request_view(r))
            .filter(|v| deadline.is_none_or(|d| v.deadline == d && v.answered_at.is_none()))
            .collect())
    }

    /// Extends a request's deadline (Art. 12(3)), with the reason told to the subject.
    ///
    /// # Errors
    /// `extension_refused` after the first month or beyond two months in total.
    pub async fn extend_request(
        &self,
        caller: &Caller,
        id: &str,
        months: u8,
        reason: &str,
    ) -> ServiceResult<RequestView> {
        let (tenant, _) = caller.admin()?;
        let mut r = self.ctx.store.request(tenant, id).await?.ok_or(ServiceError::NotFound)?;
        if reason.trim().is_empty() {
            return Err(ServiceError::field(
                "reason",
                "reason_required",
                "an extension needs the reason the subject is told",
            ));
        }
        r.deadline = r
            .deadline
            .extend(months, self.ctx.now())
            .map_err(|e| ServiceError::Invalid { code: "extension_refused", message: e.to_string() })?;
        r.extension_reason = Some(reason.trim().chars().take(2000).collect());
        self.save_request(caller.actor(), Action::RequestExtended, &r).await?;
        Ok(self.request_view(&r))
    }

    /// Answers a verified request: the register extract, or the erasure and its receipt.
    ///
    /// # Errors
    /// `not_verified`; `already_answered`; what the access report or erasure refuse.
    pub async fn answer_request(&self, caller: &Caller, id: &str) -> ServiceResult<RequestView> {
        let (tenant, _) = caller.admin()?;
        let mut r = self.ctx.store.request(tenant, id).await?.ok_or(ServiceError::NotFound)?;
        if r.verified_at.is_none() {
            return Err(ServiceError::Conflict {
                code: "not_verified",
                message: "the subject has not confirmed their address yet",
            });
        }
        if r.answered_at.is_some() {
            return Err(ServiceError::Conflict { code: "already_answered", message: "this request was answered" });
        }
        let q = SubjectQuery { email: Some(r.email.clone()), ..SubjectQuery::default() };
        let (answer, kept) = if r.kind == "erasure" {
            let receipt =
                serde_json::to_value(self.erase_subject(caller, &q).await?).map_err(ServiceError::internal)?;
            // The erasure blanked this request's message too: answer the row as it is now.
            r = self.ctx.store.request(tenant, id).await?.ok_or(ServiceError::NotFound)?;
            (receipt.clone(), receipt)
        } else {
            let extract =
                serde_json::to_value(self.access_report(caller, &q).await?).map_err(ServiceError::internal)?;
            let receipt = extract_receipt(&extract)?;
            (extract, receipt)
        };
        r.response = Some(kept);
        r.answered_at = Some(self.ctx.now());
        r.status = "answered".into();
        self.save_request(caller.actor(), Action::RequestAnswered, &r).await?;
        let mut view = self.request_view(&r);
        view.response = Some(answer);
        Ok(view)
    }
}

/// What is kept of an access extract once it was handed over: what was sent
/// and its digest, never the extract itself, so that no copy of the
/// subject's data outlives their erasure in an old answer (review H4).
fn extract_receipt(extract: &serde_json::Value) -> ServiceResult<serde_json::Value> {
    let bytes = serde_json::to_vec(extract).map_err(ServiceError::internal)?;
    let count = |key: &str| extract[key].as_array().map_or(0, Vec::len);
    Ok(serde_json::json!({
        "sent": "access_extract",
        "sha256": hex::encode(sha2::Sha256::digest(&bytes)),
        "bytes": bytes.len(),
        "users": count("users"),
        "records": count("records"),
        "files": count("files"),
    }))
}

impl Privacy {
    /// Forgets requests whose address was not confirmed within a week: the
    /// address and message are blanked in the row and in every journal
    /// payload, and the ledger records it so that restores forget them too.
    /// Returns how many were forgotten.
    ///
    /// # Errors
    /// `Forbidden` unless valv itself, an operator or the CLI; store failures.
    pub async fn expire_unverified_requests(&self, caller: &Caller) -> ServiceResult<usize> {
        caller.operator()?;
        let now = self.ctx.now();
        let mut forgotten = 0;
        for t in self.ctx.store.tenants().await?.into_iter().filter(|t| t.purged_at.is_none()) {
            let stale: Vec<RequestRow> = self
                .ctx
                .store
                .requests(t.id)
                .await?
                .into_iter()
                .filter(|r| {
                    r.verified_at.is_none() && r.deadline.received_at + UNVERIFIED_KEPT <= now && !r.email.is_empty()
                })
                .collect();
            if stale.is_empty() {
                continue;
            }
            forgotten += stale.len();
            self.forget(t.id, stale).await?;
        }
        Ok(forgotten)
    }

    async fn forget(&self, tenant: TenantId, stale: Vec<RequestRow>) -> ServiceResult<()> {
        let (id, now) = (token::random(12), self.ctx.now());
        let entities: Vec<(String, String)> = stale.iter().map(|r| ("request".to_owned(), r.id.clone())).collect();
        let erased: Vec<Erased> = stale
            .iter()
            .map(|r| Erased {
                kind: ErasedKind::Request,
                id: r.id.clone(),
                collection: None,
                fields: FORGOTTEN.map(String::from).to_vec(),
            })
            .collect();
        let ledger = LedgerEntry {
            id: id.clone(),
            tenant: tenant.to_string(),
            at: stamp(now),
            entities: entities.clone(),
            erased,
            subjects: Vec::new(),
            kept: Vec::new(),
        };
        let mut change = Change::new(Chain::Tenant(tenant), now, Actor::System, Action::RequestExpired)
            .about("erasure", &id)
            .detail(serde_json::json!({ "requests": stale.len() }));
        change.rows = stale.into_iter().map(|r| Row::Request(forgotten(r))).collect();
        self.ctx.store.erase(tenant, &id, entities, Vec::new(), ledger.to_json(), change).await?;
        Ok(())
    }
}

/// The fields an unconfirmed request loses.
pub(crate) const FORGOTTEN: [&str; 2] = ["email", "message"];

/// A request with the address and message blanked, marked expired.
pub(crate) fn forgotten(mut r: RequestRow) -> RequestRow {
    r.email = String::new();
    r.message = String::new();
    r.verification_digest = None;
    r.status = "expired".into();
    r
}
