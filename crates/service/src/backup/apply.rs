//! The replay's one thread between the opened segments and the store's
//! writer: it takes the segments in order, parses their entries
//! (`stream.rs`), keeps those after the restored position and up to the
//! instant, and hands them straight to the writer's queue. Going through the
//! async side between the two cost a thread hand-over per batch, and with
//! both cores busy the writer then waited for its first entries.

use time::OffsetDateTime;
use tokio::sync::mpsc::{Receiver, Sender, UnboundedSender};
use valv_backup_format::PartStream;
use valv_domain::parse_stamp;
use valv_store::ReplayEntry;

use super::restore::RestoreReport;
use super::stream;
use crate::{ServiceError, ServiceResult};

/// A segment fetched and decrypted, or why it could not be.
pub(crate) type Segment = Result<Opened, Unreadable>;

/// A segment's range, name, readable parts and the parts skipped (destroyed keys).
pub(crate) struct Opened {
    pub(crate) range: (u64, u64),
    pub(crate) name: String,
    pub(crate) parts: Vec<PartStream>,
    pub(crate) skipped: usize,
}

/// Why a segment's entries from some point on could not be read, with the
/// segment's last sequence number.
pub(crate) type Unreadable = (u64, ServiceError);

/// Applies segments, in order, from the restored position of `report`.
pub(crate) struct Apply {
    pub(crate) batches: Sender<Vec<ReplayEntry>>,
    pub(crate) at: OffsetDateTime,
    pub(crate) report: RestoreReport,
}

impl Apply {
    /// Runs on a blocking thread until `segments` ends or the instant is
    /// reached; sends the number of segments done to `done` after each.
    /// Returns the report and why entries are missing (every entry before the
    /// gap sent to the store), or `None`.
    ///
    /// # Errors
    /// The store stopped writing.
    pub(crate) fn run(
        mut self,
        mut segments: Receiver<Segment>,
        done: &UnboundedSender<u64>,
    ) -> (RestoreReport, ServiceResult<Option<ServiceError>>) {
        // Targets cut their segments at different points, so a segment that is
        // damaged everywhere it exists may still be covered by another target's
        // segments: its failure counts only if its entries are not found elsewhere.
        let mut unreadable: Option<Unreadable> = None;
        let mut n = 0;
        while let Some(segment) = segments.blocking_recv() {
            let opened = match segment {
                Ok(s) => s,
                Err((last, e)) => {
                    self.note(&mut unreadable, last, e);
                    continue;
                }
            };
            let (first, last) = opened.range;
            if let Some((_, e)) = unreadable.take_if(|_| first > self.report.seq + 1) {
                return (self.report, Ok(Some(e)));
            }
            if first > self.report.seq + 1 && self.report.seq > 0 {
                tracing::warn!(segment = %opened.name, after = self.report.seq, "entries missing before this segment");
            }
            self.report.skipped_parts += opened.skipped;
            let reached = match self.segment(opened.parts) {
                Ok(reached) => reached,
                // What was read of the segment stands; the rest counts as unreadable.
                Err(Stop::Unreadable(e)) => {
                    self.note(&mut unreadable, last, e);
                    false
                }
                Err(Stop::Store) => return (self.report, Err(ServiceError::internal_msg("the store stopped writing"))),
            };
            if unreadable.as_ref().is_some_and(|(l, _)| *l <= self.report.seq) {
                unreadable = None;
            }
            if reached {
                return (self.report, Ok(None));
            }
            n += 1;
            let _ = done.send(n);
        }
        (self.report, Ok(unreadable.map(|(_, e)| e)))
    }

    /// Keeps `e` as the reason entries up to `last` are missing, unless they
    /// are held already or a later segment's failure is kept.
    fn note(&self, unreadable: &mut Option<Unreadable>, last: u64, e: ServiceError) {
        if last > self.report.seq && unreadable.as_ref().is_none_or(|(l, _)| *l < last) {
            *unreadable = Some((last, e));
        }
    }

    /// Sends a segment's due entries to the store; returns whether the instant was reached.
    fn segment(&mut self, parts: Vec<PartStream>) -> Result<bool, Stop> {
        let (mut reached, mut stop) = (false, None);
        let merged = stream::merge(parts, |chunk| {
            let due = match stream::decode(chunk) {
                Ok(entries) => {
                    let due;
                    (due, reached) = take_due(entries, self.at, &mut self.report);
                    due
                }
                Err(e) => {
                    stop = Some(Stop::Unreadable(e));
                    return false;
                }
            };
            if !due.is_empty() && self.batches.blocking_send(due).is_err() {
                stop = Some(Stop::Store);
                return false;
            }
            !reached
        });
        match (stop, merged) {
            (Some(s), _) => Err(s),
            (None, Err(e)) => Err(Stop::Unreadable(e)),
            (None, Ok(())) => Ok(reached),
        }
    }
}

/// Why a segment was left before its end.
enum Stop {
    Unreadable(ServiceError),
    Store,
}

/// The entries of `chunk` after the restored position and up to `at`, and
/// whether an entry after `at` came (the instant is reached).
fn take_due(chunk: Vec<ReplayEntry>, at: OffsetDateTime, report: &mut RestoreReport) -> (Vec<ReplayEntry>, bool) {
    let mut due = Vec::with_capacity(chunk.len());
    let after = report.seq;
    for e in chunk.into_iter().filter(|e| e.entry.seq > after) {
        if !parse_stamp(&e.entry.at).is_ok_and(|t| t <= at) {
            return (due, true);
        }
        (report.seq, report.at) = (e.entry.seq, e.entry.at.clone());
        report.replayed += 1;
        due.push(e);
    }
    (due, false)
}
