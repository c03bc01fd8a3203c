//! Sessions, throttles and the setup token: not journaled (see valv-store),
//! so these writes take no lock: they never touch the journal.

use sqlx::PgPool;
use time::{Duration, OffsetDateTime};
use valv_domain::{OperatorId, TenantId, UserId, parse_stamp, stamp};
use valv_store::{KeyOwner, Principal, SessionRow, StoreResult, Throttle};

use crate::PgStore;
use crate::{backend, corrupt};
use valv_store::SessionStore;

pub(crate) async fn put_session(pool: &PgPool, s: &SessionRow) -> StoreResult<()> {
    let (kind, tenant, subject) = match s.principal {
        Principal::User { tenant, user } => ("user", Some(tenant.to_string()), user.to_string()),
        Principal::Operator(o) => ("operator", None, o.to_string()),
    };
    sqlx::query(
        "INSERT INTO sessions (id, secret_digest, kind, tenant_id, subject_id, complete,
           created_at, expires_at, code_digest, code_expires_at, code_failures)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
         ON CONFLICT (id) DO UPDATE SET secret_digest = excluded.secret_digest, kind = excluded.kind,
           tenant_id = excluded.tenant_id, subject_id = excluded.subject_id, complete = excluded.complete,
           created_at = excluded.created_at, expires_at = excluded.expires_at, code_digest = excluded.code_digest,
           code_expires_at = excluded.code_expires_at, code_failures = excluded.code_failures",
    )
    .bind(&s.id)
    .bind(&s.secret_digest)
    .bind(kind)
    .bind(tenant)
    .bind(subject)
    .bind(s.complete)
    .bind(stamp(s.created_at))
    .bind(stamp(s.expires_at))
    .bind(s.code_digest.as_deref())
    .bind(s.code_expires_at.map(stamp))
    .bind(i64::from(s.code_failures))
    .execute(pool)
    .await
    .map_err(backend)?;
    Ok(())
}

type RawSession =
    (String, String, String, Option<String>, String, bool, String, String, Option<String>, Option<String>, i64);

pub(crate) async fn session(pool: &PgPool, id: &str) -> StoreResult<Option<SessionRow>> {
    let raw: Option<RawSession> = sqlx::query_as(
        "SELECT id, secret_digest, kind, tenant_id, subject_id, complete, created_at, expires_at,
                code_digest, code_expires_at, code_failures FROM sessions WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(pool)
    .await
    .map_err(backend)?;
    raw.map(decode_session).transpose()
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
        code_failures: u32::try_from(code_failures).map_err(corrupt)?,
    })
}

pub(crate) async fn delete_session(pool: &PgPool, id: &str) -> StoreResult<()> {
    sqlx::query("DELETE FROM sessions WHERE id = $1").bind(id).execute(pool).await.map_err(backend)?;
    Ok(())
}

pub(crate) async fn delete_sessions(pool: &PgPool, principal: Principal, keep: Option<&str>) -> StoreResult<()> {
    let subject = match principal {
        Principal::User { user, .. } => user.to_string(),
        Principal::Operator(o) => o.to_string(),
    };
    sqlx::query("DELETE FROM sessions WHERE subject_id = $1 AND id IS DISTINCT FROM $2")
        .bind(subject)
        .bind(keep)
        .execute(pool)
        .await
        .map_err(backend)?;
    Ok(())
}

pub(crate) async fn throttle(pool: &PgPool, key: &str) -> StoreResult<Option<Throttle>> {
    let raw: Option<(i64, Option<String>)> =
        sqlx::query_as("SELECT failures, locked_until FROM throttles WHERE key = $1")
            .bind(key)
            .fetch_optional(pool)
            .await
            .map_err(backend)?;
    raw.map(|(failures, until)| {
        Ok(Throttle {
            failures: u32::try_from(failures).map_err(corrupt)?,
            locked_until: until.map(|s| parse_stamp(&s)).transpose().map_err(corrupt)?,
        })
    })
    .transpose()
}

pub(crate) async fn add_failure(pool: &PgPool, (key, subject): &(String, String)) -> StoreResult<u32> {
    let n: i64 = sqlx::query_scalar(
        "INSERT INTO throttles (key, subject, failures) VALUES ($1, $2, 1)
         ON CONFLICT (key) DO UPDATE SET failures = throttles.failures + 1 RETURNING failures",
    )
    .bind(key)
    .bind(subject)
    .fetch_one(pool)
    .await
    .map_err(backend)?;
    u32::try_from(n).map_err(corrupt)
}

pub(crate) async fn lock_throttle(pool: &PgPool, key: &str, until: OffsetDateTime) -> StoreResult<()> {
    // Stamps are fixed-width UTC text, so they compare in time order.
    sqlx::query(
        "UPDATE throttles SET locked_until = $2 WHERE key = $1 AND (locked_until IS NULL OR locked_until < $2)",
    )
    .bind(key)
    .bind(stamp(until))
    .execute(pool)
    .await
    .map_err(backend)?;
    Ok(())
}

pub(crate) async fn count_call(
    pool: &PgPool,
    (key, subject): &(String, String),
    now: OffsetDateTime,
    window: Duration,
) -> StoreResult<Throttle> {
    let (failures, end): (i64, String) = sqlx::query_as(
        "INSERT INTO throttles (key, failures, locked_until, subject) VALUES ($1, 1, $3, $4)
         ON CONFLICT (key) DO UPDATE SET
           failures = CASE WHEN throttles.locked_until > $2 THEN throttles.failures + 1 ELSE 1 END,
           locked_until = CASE WHEN throttles.locked_until > $2 THEN throttles.locked_until ELSE $3 END
         RETURNING failures, locked_until",
    )
    .bind(key)
    .bind(stamp(now))
    .bind(stamp(now + window))
    .bind(subject)
    .fetch_one(pool)
    .await
    .map_err(backend)?;
    Ok(Throttle {
        failures: u32::try_from(failures).map_err(corrupt)?,
        locked_until: Some(parse_stamp(&end).map_err(corrupt)?),
    })
}

pub(crate) async fn clear_throttle(pool: &PgPool, key: &str) -> StoreResult<()> {
    sqlx::query("DELETE FROM throttles WHERE key = $1").bind(key).execute(pool).await.map_err(backend)?;
    Ok(())
}

pub(crate) async fn put_setup_token(pool: &PgPool, digest: &str) -> StoreResult<()> {
    sqlx::query("INSERT INTO setup_tokens (digest) VALUES ($1) ON CONFLICT (digest) DO NOTHING")
        .bind(digest)
        .execute(pool)
        .await
        .map_err(backend)?;
    Ok(())
}

/// True when `digest` was a token; every token is gone then (one setup,
/// whichever process printed it). Of two takes at once, the row locks let
/// one delete the rows; the other finds them gone.
pub(crate) async fn take_setup_token(pool: &PgPool, digest: &str) -> StoreResult<bool> {
    let done = sqlx::query("DELETE FROM setup_tokens WHERE EXISTS (SELECT 1 FROM setup_tokens WHERE digest = $1)")
        .bind(digest)
        .execute(pool)
        .await
        .map_err(backend)?;
    Ok(done.rows_affected() > 0)
}

impl PgStore {
    /// A throttle key as stored, and the blind index of its address.
    async fn throttle_key(&self, key: &str) -> StoreResult<(String, String)> {
        let k = self.vault.key(KeyOwner::Provider).await?;
        Ok((k.throttle(key), k.throttle_subject(key)))
    }
}

#[async_trait::async_trait]
impl SessionStore for PgStore {
    async fn put_session(&self, session: SessionRow) -> StoreResult<()> {
        put_session(&self.pool, &session).await
    }

    async fn session(&self, id: &str) -> StoreResult<Option<SessionRow>> {
        session(&self.pool, id).await
    }

    async fn delete_session(&self, id: &str) -> StoreResult<()> {
        delete_session(&self.pool, id).await
    }

    async fn delete_sessions(&self, principal: Principal, keep: Option<&str>) -> StoreResult<()> {
        delete_sessions(&self.pool, principal, keep).await
    }

    async fn throttle(&self, key: &str) -> StoreResult<Option<Throttle>> {
        throttle(&self.pool, &self.throttle_key(key).await?.0).await
    }

    async fn add_failure(&self, key: &str) -> StoreResult<u32> {
        add_failure(&self.pool, &self.throttle_key(key).await?).await
    }

    async fn lock_throttle(&self, key: &str, until: time::OffsetDateTime) -> StoreResult<()> {
        lock_throttle(&self.pool, &self.throttle_key(key).await?.0, until).await
    }

    async fn count_call(&self, key: &str, now: time::OffsetDateTime, window: time::Duration) -> StoreResult<Throttle> {
        count_call(&self.pool, &self.throttle_key(key).await?, now, window).await
    }

    async fn clear_throttle(&self, key: &str) -> StoreResult<()> {
        clear_throttle(&self.pool, &self.throttle_key(key).await?.0).await
    }

    async fn forget_throttles_of(&self, address: &str) -> StoreResult<u64> {
        let subject = self.vault.key(KeyOwner::Provider).await?.throttle_subject(address);
        let done = sqlx::query("DELETE FROM throttles WHERE subject = $1")
            .bind(subject)
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        Ok(done.rows_affected())
    }

    async fn put_setup_token(&self, digest: &str) -> StoreResult<()> {
        put_setup_token(&self.pool, digest).await
    }

    async fn take_setup_token(&self, digest: &str) -> StoreResult<bool> {
        take_setup_token(&self.pool, digest).await
    }
}
