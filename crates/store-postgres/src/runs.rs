//! Restores write many rows into PostgreSQL. One statement per row costs a
//! round trip each; here row images of one table are written as a run in one
//! statement, ending where the table changes, a key comes again (a statement
//! cannot change a row twice) or the run is full. The order of writes is
//! kept, so a run does what its rows written one by one would.

use std::collections::HashSet;
use std::mem::discriminant;

use sqlx::PgConnection;
use valv_store::{RowImage, StoreResult};

use crate::entities::{self, Sealing};

/// Rows per statement: well under PostgreSQL's 65,535 parameters at six a row.
const RUN: usize = 1_000;

/// Row images waiting to be written together.
#[derive(Default)]
pub(crate) struct Runs {
    rows: Vec<RowImage>,
    keys: HashSet<String>,
}

impl Runs {
    /// Adds a row; writes the pending run first when `row` cannot join it.
    pub(crate) async fn push(&mut self, c: &mut PgConnection, s: &mut Sealing, row: RowImage) -> StoreResult<()> {
        let key = row.keys.key();
        let joins = self.rows.first().is_none_or(|f| discriminant(&f.keys) == discriminant(&row.keys));
        if !joins || self.keys.contains(&key) || self.rows.len() >= RUN {
            self.flush(c, s).await?;
        }
        self.keys.insert(key);
        self.rows.push(row);
        Ok(())
    }

    /// Writes the pending run, sealed.
    pub(crate) async fn flush(&mut self, c: &mut PgConnection, s: &mut Sealing) -> StoreResult<()> {
        entities::upsert_run(c, s, &self.rows).await?;
        self.rows.clear();
        self.keys.clear();
        Ok(())
    }
}
