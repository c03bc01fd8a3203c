//! Who leads the background work (backup shipping, full backups, purging)
//! among the processes sharing one database: whoever holds a session-level
//! advisory lock, on a connection of its own kept out of the pool. The lock
//! lives as long as that connection: when the leader ends or its connection
//! breaks, the server releases it and another process takes it at its next
//! asking.

use std::sync::Arc;

use sqlx::{PgConnection, PgPool};
use valv_store::StoreResult;

use crate::backend;

/// The leadership lock (the bytes of `valvlead`).
const LEAD_LOCK: i64 = 0x7661_6c76_6c65_6164;

/// This process's claim: the connection that holds, or tries to take, the lock.
#[derive(Default, Clone)]
pub(crate) struct Leader {
    claim: Arc<tokio::sync::Mutex<Option<Claim>>>,
}

struct Claim {
    conn: PgConnection,
    held: bool,
}

impl Leader {
    /// Whether this process leads: takes the lock when it is free, and
    /// checks that the connection holding it is still alive.
    pub(crate) async fn lead(&self, pool: &PgPool) -> StoreResult<bool> {
        let mut slot = self.claim.lock().await;
        let claim = match slot.as_mut() {
            Some(claim) => claim,
            None => {
                // Detached: it no longer counts against the pool, and lives as long as the claim.
                let conn = pool.acquire().await.map_err(backend)?.detach();
                slot.insert(Claim { conn, held: false })
            }
        };
        // The lock is taken once: a session lock taken twice must be released twice.
        let asked = if claim.held {
            sqlx::query_scalar("SELECT TRUE").fetch_one(&mut claim.conn).await
        } else {
            sqlx::query_scalar("SELECT pg_try_advisory_lock($1)").bind(LEAD_LOCK).fetch_one(&mut claim.conn).await
        };
        match asked {
            Ok(held) => {
                claim.held = held;
                Ok(held)
            }
            Err(e) => {
                // The connection is gone, and the lock with it: try afresh next time.
                *slot = None;
                Err(backend(e))
            }
        }
    }
}
