//! Sessions, throttles and the setup token: not journaled (see valv-store).

use rusqlite::{Connection, OptionalExtension as _, Row, params};
use time::{Duration, OffsetDateTime};
use valv_domain::{OperatorId, TenantId, UserId, parse_stamp, stamp};
use valv_store::{KeyOwner, Principal, SessionRow, StoreResult, Throttle};

use crate::SqliteStore;
use crate::{backend, corrupt};
use valv_store::SessionStore;

pub(crate) fn put_session(c: &Connection, s: &SessionRow) -> StoreResult<()> {
    let (kind, tenant, subject) = match s.principal {
        Principal::User { tenant, user } => ("user", Some(tenant.to_string()), user.to_string()),
        Principal::Operator(o) => ("operator", None, o.to_string()),
    };
    c.execute(
        "INSERT OR REPLACE INTO sessions (id, secret_digest, kind, tenant_id, subject_id, complete,
           created_at, expires_at, code_digest, code_expires_at, code_failures)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
        params![
            s.id,
            s.secret_digest,
            kind,
            tenant,
            subject,
            s.complete,
            stamp(s.created_at),
            stamp(s.expires_at),
            s.code_digest,
            s.code_expires_at.map(stamp),
            s.code_failures
        ],
    )
    .map_err(backend)?;
    Ok(())
}

pub(crate) fn session(c: &Connection, id: &str) -> StoreResult<Option<SessionRow>> {
    let raw = c
        .query_row(
            "SELECT id, secret_digest, kind, tenant_id, subject_id, complete, created_at, expires_at,
                    code_digest, code_expires_at, code_failures FROM sessions WHERE id = ?1",
            [id],
            raw_session,
        )
        .optional()
        .map_err(backend)?;
    raw.map(decode_session).transpose()
}

type RawSession =
    (String, String, String, Option<String>, String, bool, String, String, Option<String>, Option<String>, u32);

fn raw_session(r: &Row<'_>) -> rusqlite::Result<RawSession> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
        r.get(6)?,
        r.get(7)?,
        r.get(8)?,
        r.get(9)?,
        r.get(10)?,
    ))
}

fn decode_session(r: RawSession) -> StoreResult<SessionRow> {
    let (id, secret_digest, kind, tenant, subject, complete, created, expires, code_digest, code_exp, code_failures) =
        r;
    let principal = match (kind.as_str(), tenant) {
        ("user", Some(t)) => Principal::User {
            tenant: TenantId::parse(&t).map_err(corrupt)?,
            user: UserId::parse(&subject).map_err(corrupt)?,
        },
        ("operator", None) => Principal::Operator(OperatorId::parse(&subject).map_err(corrupt)?),
        _ => return Err(corrupt("session has an unknown kind")),
    };
    Ok(SessionRow {
        id,
        secret_digest,
        principal,
        complete,
        created_at: parse_stamp(&created).map_err(corrupt)?,
        expires_at: parse_stamp(&expires).map_err(corrupt)?,
        code_digest,
        code_expires_at: code_exp.map(|s| parse_stamp(&s)).transpose().map_err(corrupt)?,
        code_failures,
    })
}

pub(crate) fn delete_sessions(c: &Connection, principal: Principal, keep: Option<&str>) -> StoreResult<()> {
    let subject = match principal {
        Principal::User { user, .. } => user.to_string(),
        Principal::Operator(o) => o.to_string(),
    };
    c.execute("DELETE FROM sessions WHERE subject_id = ?1 AND id IS NOT ?2", params![subject, keep])
        .map_err(backend)?;
    Ok(())
}

pub(crate) fn throttle(c: &Connection, key: &str) -> StoreResult<Option<Throttle>> {
    let raw: Option<(u32, Option<String>)> = c
        .query_row("SELECT failures, locked_until FROM throttles WHERE key = ?1", [key], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()
        .map_err(backend)?;
    raw.map(|(failures, until)| {
        Ok(Throttle { failures, locked_until: until.map(|s| parse_stamp(&s)).transpose().map_err(corrupt)? })
    })
    .transpose()
}

pub(crate) fn add_failure(c: &Connection, (key, subject): &(String, String)) -> StoreResult<u32> {
    c.query_row(
        "INSERT INTO throttles (key, subject, failures) VALUES (?1, ?2, 1)
         ON CONFLICT (key) DO UPDATE SET failures = throttles.failures + 1 RETURNING failures",
        [key, subject],
        |r| r.get(0),
    )
    .map_err(backend)
}

pub(crate) fn lock_throttle(c: &Connection, key: &str, until: OffsetDateTime) -> StoreResult<()> {
    // Stamps are fixed-width UTC text, so they compare in time order.
    c.execute(
        "UPDATE throttles SET locked_until = ?2 WHERE key = ?1 AND (locked_until IS NULL OR locked_until < ?2)",
        params![key, stamp(until)],
    )
    .map_err(backend)?;
    Ok(())
}

pub(crate) fn count_call(
    c: &Connection,
    (key, subject): &(String, String),
    now: OffsetDateTime,
    window: Duration,
) -> StoreResult<Throttle> {
    let (failures, end): (u32, String) = c
        .query_row(
            "INSERT INTO throttles (key, failures, locked_until, subject) VALUES (?1, 1, ?3, ?4)
             ON CONFLICT (key) DO UPDATE SET
               failures = CASE WHEN throttles.locked_until > ?2 THEN throttles.failures + 1 ELSE 1 END,
               locked_until = CASE WHEN throttles.locked_until > ?2 THEN throttles.locked_until ELSE ?3 END
             RETURNING failures, locked_until",
            params![key, stamp(now), stamp(now + window), subject],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .map_err(backend)?;
    Ok(Throttle { failures, locked_until: Some(parse_stamp(&end).map_err(corrupt)?) })
}

impl SqliteStore {
    /// A throttle key as stored, and the blind index of its address.
    async fn throttle_key(&self, key: &str) -> StoreResult<(String, String)> {
        let k = self.vault.key(KeyOwner::Provider).await?;
        Ok((k.throttle(key), k.throttle_subject(key)))
    }
}

#[async_trait::async_trait]
impl SessionStore for SqliteStore {
    async fn put_session(&self, session: SessionRow) -> StoreResult<()> {
        self.write(move |c| put_session(c, &session)).await
    }

    async fn session(&self, id: &str) -> StoreResult<Option<SessionRow>> {
        let id = id.to_owned();
        self.read(move |c| session(c, &id)).await
    }

    async fn delete_session(&self, id: &str) -> StoreResult<()> {
        let id = id.to_owned();
        self.write(move |c| c.execute("DELETE FROM sessions WHERE id = ?1", [id]).map(drop).map_err(backend)).await
    }

    async fn delete_sessions(&self, principal: Principal, keep: Option<&str>) -> StoreResult<()> {
        let keep = keep.map(str::to_owned);
        self.write(move |c| delete_sessions(c, principal, keep.as_deref())).await
    }

    async fn throttle(&self, key: &str) -> StoreResult<Option<Throttle>> {
        let key = self.throttle_key(key).await?.0;
        self.read(move |c| throttle(c, &key)).await
    }

    async fn add_failure(&self, key: &str) -> StoreResult<u32> {
        let key = self.throttle_key(key).await?;
        self.write(move |c| add_failure(c, &key)).await
    }

    async fn lock_throttle(&self, key: &str, until: time::OffsetDateTime) -> StoreResult<()> {
        let key = self.throttle_key(key).await?.0;
        self.write(move |c| lock_throttle(c, &key, until)).await
    }

    async fn count_call(&self, key: &str, now: time::OffsetDateTime, window: time::Duration) -> StoreResult<Throttle> {
        let key = self.throttle_key(key).await?;
        self.write(move |c| count_call(c, &key, now, window)).await
    }

    async fn clear_throttle(&self, key: &str) -> StoreResult<()> {
        let key = self.throttle_key(key).await?.0;
        self.write(move |c| c.execute("DELETE FROM throttles WHERE key = ?1", [key]).map(drop).map_err(backend)).await
    }

    async fn forget_throttles_of(&self, address: &str) -> StoreResult<u64> {
        let subject = self.vault.key(KeyOwner::Provider).await?.throttle_subject(address);
        self.write(move |c| {
            c.execute("DELETE FROM throttles WHERE subject = ?1", [subject]).map(|n| n as u64).map_err(backend)
        })
        .await
    }

    async fn put_setup_token(&self, digest: &str) -> StoreResult<()> {
        let digest = digest.to_owned();
        self.write(move |c| {
            c.execute("INSERT OR IGNORE INTO setup_tokens (digest) VALUES (?1)", [digest]).map(drop).map_err(backend)
        })
        .await
    }

    async fn take_setup_token(&self, digest: &str) -> StoreResult<bool> {
        let digest = digest.to_owned();
        self.write(move |c| {
            // Every token goes with the first one used: one setup, whichever process printed it.
            c.execute("DELETE FROM setup_tokens WHERE EXISTS (SELECT 1 FROM setup_tokens WHERE digest = ?1)", [digest])
                .map(|n| n > 0)
                .map_err(backend)
        })
        .await
    }
}
