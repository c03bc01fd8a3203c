//! What a target keeps: snapshots for daily and monthly restores, and the
//! journal segments that point-in-time restore needs (DESIGN.md, The journal:
//! "latest snapshot at or before T, then replay entries up to T").
//!
//! The plan is a pure function of the target's listing and the time, so it
//! can be checked by property tests and re-run after a crash with the same
//! result. Chunks are pruned by the caller from the kept objects' chunk lists.

use std::collections::BTreeMap;

use time::{Duration, OffsetDateTime, UtcOffset};

/// How long backups are kept. Every field has a default that suits most
/// installations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// How far back any instant can be restored to (default 35 days).
    pub pitr: Duration,
    /// How far back every snapshot is kept (default 30 days).
    pub daily: Duration,
    /// How many calendar months, counting the current one, keep their first
    /// snapshot (UTC) (default 12).
    pub monthly: u32,
}

impl Default for Policy {
    fn default() -> Self {
        Self { pitr: Duration::days(35), daily: Duration::days(30), monthly: 12 }
    }
}

/// A full backup on the target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotInfo {
    /// How the caller names it (its folder under `snapshots/`).
    pub id: String,
    /// The last journal entry it contains.
    pub seq: u64,
    /// When it was taken.
    pub at: OffsetDateTime,
}

/// A journal segment on the target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentInfo {
    /// Its object name.
    pub name: String,
    /// Its first journal entry.
    pub first_seq: u64,
    /// Its last journal entry.
    pub last_seq: u64,
    /// When its last entry was written.
    pub last_at: OffsetDateTime,
}

/// What to keep and what to delete; every input is in exactly one list, in
/// input order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// Snapshot ids to keep.
    pub keep_snapshots: Vec<String>,
    /// Snapshot ids to delete.
    pub drop_snapshots: Vec<String>,
    /// Segment names to keep.
    pub keep_segments: Vec<String>,
    /// Segment names to delete.
    pub drop_segments: Vec<String>,
}

impl Policy {
    /// Decides what to keep at `now`.
    ///
    /// A snapshot is kept when it is within the daily window; or it is the
    /// first of its calendar month within the monthly window; or it is the
    /// base of point-in-time restore (the newest at or before `now - pitr`,
    /// or the oldest when none is that old); or it is the newest of all, so
    /// a target is never left without a full backup.
    ///
    /// A segment is kept when it holds entries after the base's: replaying
    /// them from the base reaches every instant in the window. With no
    /// snapshot as old as the window, every segment is kept, since a restore
    /// to an early instant then replays from the very first entry.
    #[must_use]
    pub fn plan(&self, snapshots: &[SnapshotInfo], segments: &[SegmentInfo], now: OffsetDateTime) -> Plan {
        let cutoff = now.saturating_sub(self.pitr);
        let daily_from = now.saturating_sub(self.daily);
        let order = |s: &&SnapshotInfo| (s.at, s.seq, s.id.clone());
        let pitr_base = snapshots.iter().filter(|s| s.at <= cutoff).max_by_key(order);
        let base = pitr_base.or_else(|| snapshots.iter().min_by_key(order));
        let newest = snapshots.iter().max_by_key(order);
        let monthly = self.monthly_representatives(snapshots, now);

        let mut plan = Plan::default();
        for s in snapshots {
            let keep = s.at >= daily_from
                || monthly.contains(&s.id.as_str())
                || base.is_some_and(|b| b.id == s.id)
                || newest.is_some_and(|n| n.id == s.id);
            let list = if keep { &mut plan.keep_snapshots } else { &mut plan.drop_snapshots };
            list.push(s.id.clone());
        }
        for g in segments {
            let keep = pitr_base.is_none_or(|b| g.last_seq > b.seq);
            let list = if keep { &mut plan.keep_segments } else { &mut plan.drop_segments };
            list.push(g.name.clone());
        }
        plan
    }

    /// The first snapshot (UTC) of each of the last `monthly` calendar months.
    fn monthly_representatives<'a>(&self, snapshots: &'a [SnapshotInfo], now: OffsetDateTime) -> Vec<&'a str> {
        let oldest_month = month_index(now) - i64::from(self.monthly);
        let mut first: BTreeMap<i64, &SnapshotInfo> = BTreeMap::new();
        for s in snapshots.iter().filter(|s| month_index(s.at) > oldest_month) {
            let slot = first.entry(month_index(s.at)).or_insert(s);
            if (s.at, s.seq, &s.id) < (slot.at, slot.seq, &slot.id) {
                *slot = s;
            }
        }
        first.values().map(|s| s.id.as_str()).collect()
    }
}

/// Months since year 0, so that consecutive calendar months differ by one.
fn month_index(t: OffsetDateTime) -> i64 {
    // Only the last instants of year 9999 have no UTC form; their own month is as good.
    let t = t.checked_to_offset(UtcOffset::UTC).unwrap_or(t);
    i64::from(t.year()) * 12 + i64::from(u8::from(t.month()))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use proptest::prelude::*;
    use time::macros::datetime;

    use super::*;

    const NOW: OffsetDateTime = datetime!(2025-06-15 12:00 UTC);

    fn snapshot(seq: u64, at: OffsetDateTime) -> SnapshotInfo {
        SnapshotInfo { id: format!("s{seq}"), seq, at }
    }

    fn segment(first_seq: u64, last_seq: u64, last_at: OffsetDateTime) -> SegmentInfo {
        SegmentInfo { name: format!("g{first_seq}-{last_seq}"), first_seq, last_seq, last_at }
    }

    #[test]
    fn a_year_of_daily_snapshots_keeps_the_window_the_months_and_the_base() {
        // One snapshot a day at 15:00 for 400 days, 10 entries a day, one segment a day.
        let days: Vec<OffsetDateTime> = (0..400).map(|d| datetime!(2024-05-11 15:00 UTC) + Duration::days(d)).collect();
        let snapshots: Vec<_> = days.iter().enumerate().map(|(i, &at)| snapshot(10 * i as u64 + 10, at)).collect();
        let segments: Vec<_> =
            days.iter().enumerate().map(|(i, &at)| segment(10 * i as u64 + 1, 10 * i as u64 + 10, at)).collect();
        let plan = Policy::default().plan(&snapshots, &segments, NOW);
        let kept: BTreeSet<_> = plan.keep_snapshots.iter().map(String::as_str).collect();
        let at = |id: &str| snapshots.iter().find(|s| s.id == id).unwrap().at;
        let daily = kept.iter().filter(|id| at(id) >= NOW - Duration::days(30)).count();
        assert_eq!(daily, 30, "the last 30 days");
        let firsts: BTreeSet<_> =
            kept.iter().map(|id| at(id)).filter(|t| t.day() == 1).map(|t| (t.year(), t.month())).collect();
        assert_eq!(firsts.len(), 12, "first of each of 12 months, 2024-07 to 2025-06: {firsts:?}");
        let base = snapshots.iter().rfind(|s| s.at <= NOW - Duration::days(35)).unwrap();
        assert!(kept.contains(base.id.as_str()), "the point-in-time base");
        assert_eq!(
            plan.keep_segments.first(),
            Some(&format!("g{}-{}", base.seq + 1, base.seq + 10)),
            "replay starts after the base"
        );
        assert_eq!(plan.keep_segments.len(), 35, "35 days of journal");
    }

    #[test]
    fn without_a_snapshot_as_old_as_the_window_every_segment_stays() {
        let segments = [segment(1, 5, NOW - Duration::days(90)), segment(6, 9, NOW)];
        let plan = Policy::default().plan(&[], &segments, NOW);
        assert_eq!(plan.keep_segments, ["g1-5", "g6-9"]);
        let young = [snapshot(9, NOW - Duration::days(33)), snapshot(5, NOW - Duration::days(34))];
        let plan = Policy::default().plan(&young, &segments, NOW);
        assert_eq!(plan.keep_segments, ["g1-5", "g6-9"]);
        assert_eq!(plan.keep_snapshots, ["s9", "s5"], "the oldest is where restores start, the newest is the newest");
        assert!(plan.drop_snapshots.is_empty());
    }

    #[test]
    fn the_last_snapshot_is_never_dropped() {
        let old = [snapshot(3, NOW - Duration::days(900))];
        let plan = Policy { pitr: Duration::days(1), daily: Duration::days(1), monthly: 0 }.plan(&old, &[], NOW);
        assert_eq!(plan.keep_snapshots, ["s3"]);
    }

    /// A journal (entry times) with snapshots and segments cut from it.
    fn history() -> impl Strategy<Value = (Vec<OffsetDateTime>, Vec<SnapshotInfo>, Vec<SegmentInfo>)> {
        let minutes = 500 * 24 * 60;
        let entries = proptest::collection::vec(0i64..minutes, 1..120);
        let snaps = proptest::collection::vec(0i64..minutes, 0..40);
        let cuts = proptest::collection::vec(1usize..12, 1..60);
        (entries, snaps, cuts).prop_map(|(mut entries, snaps, cuts)| {
            entries.sort_unstable_by(|a, b| b.cmp(a));
            let times: Vec<_> = entries.iter().map(|m| NOW - Duration::minutes(*m)).collect();
            let seq_at = |t: OffsetDateTime| times.iter().filter(|e| **e <= t).count() as u64;
            let snapshots = snaps
                .iter()
                .enumerate()
                .map(|(i, m)| {
                    let at = NOW - Duration::minutes(*m);
                    SnapshotInfo { id: format!("s{i}"), seq: seq_at(at), at }
                })
                .collect();
            let (mut segments, mut first) = (Vec::new(), 1usize);
            for len in cuts.iter().cycle() {
                if first > times.len() {
                    break;
                }
                let last = (first + len - 1).min(times.len());
                segments.push(SegmentInfo {
                    name: format!("g{first}"),
                    first_seq: first as u64,
                    last_seq: last as u64,
                    last_at: times[last - 1],
                });
                first = last + 1;
            }
            (times, snapshots, segments)
        })
    }

    proptest! {
        #[test]
        fn every_instant_in_the_window_stays_restorable((times, snapshots, segments) in history(), probes in proptest::collection::vec(0i64..35 * 24 * 60, 1..20)) {
            let policy = Policy::default();
            let plan = policy.plan(&snapshots, &segments, NOW);
            let kept_snaps: BTreeSet<_> = plan.keep_snapshots.iter().cloned().collect();
            let kept_segs: BTreeSet<_> = plan.keep_segments.iter().cloned().collect();
            let probes = probes.iter().map(|m| NOW - Duration::minutes(*m)).chain([NOW, NOW - policy.pitr]);
            for t in probes {
                let seq_at_t = times.iter().filter(|e| **e <= t).count() as u64;
                // Segments a replay from `after` up to `t` reads.
                let needed = |after: u64| segments.iter().filter(move |g| g.last_seq > after && g.first_seq <= seq_at_t);
                if snapshots.iter().any(|s| s.at <= t) {
                    let ok = snapshots.iter().filter(|s| s.at <= t && kept_snaps.contains(&s.id))
                        .any(|s| needed(s.seq).all(|g| kept_segs.contains(&g.name)));
                    prop_assert!(ok, "no kept snapshot and journal reach {}", t);
                } else {
                    prop_assert!(needed(0).all(|g| kept_segs.contains(&g.name)), "replay from the start to {}", t);
                }
            }
        }

        #[test]
        fn the_newest_and_the_dailies_are_kept_and_the_plan_partitions((_, snapshots, segments) in history()) {
            let plan = Policy::default().plan(&snapshots, &segments, NOW);
            if let Some(newest) = snapshots.iter().max_by_key(|s| (s.at, s.seq, s.id.clone())) {
                prop_assert!(plan.keep_snapshots.contains(&newest.id));
            }
            for s in snapshots.iter().filter(|s| s.at >= NOW - Duration::days(30)) {
                prop_assert!(plan.keep_snapshots.contains(&s.id), "daily {}", s.id);
            }
            let ids: Vec<_> = snapshots.iter().map(|s| s.id.clone()).collect();
            let mut planned: Vec<_> = plan.keep_snapshots.iter().chain(&plan.drop_snapshots).cloned().collect();
            planned.sort();
            let mut sorted = ids.clone();
            sorted.sort();
            prop_assert_eq!(planned, sorted);
            let names: BTreeSet<_> = segments.iter().map(|g| g.name.clone()).collect();
            let mut planned: Vec<_> = plan.keep_segments.iter().chain(&plan.drop_segments).cloned().collect();
            planned.sort();
            prop_assert_eq!(planned, names.into_iter().collect::<Vec<_>>());
        }
    }
}
