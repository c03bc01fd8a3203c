//! When the full backup (a snapshot on every target) runs: a five-field cron
//! expression, always in UTC so that a server's time zone or a daylight
//! saving change never moves or repeats a backup. The default, `0 15 * * *`,
//! is every day at 15:00 UTC.
//!
//! Parsing and the calendar search are croner's; this module only keeps the
//! expression to whole minutes and converts to and from `time`.

use std::str::FromStr;

use chrono::{DateTime, Utc};
use croner::Cron;
use croner::parser::{CronParser, Seconds, Year};
use time::OffsetDateTime;

use crate::ScheduleError;

/// The schedule used when the configuration names none.
pub const DEFAULT: &str = "0 15 * * *";

/// A parsed backup schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    cron: Cron,
}

impl Default for Schedule {
    fn default() -> Self {
        Self { cron: parser().parse(DEFAULT).unwrap_or_else(|_| unreachable!("the default schedule parses")) }
    }
}

impl std::fmt::Display for Schedule {
    /// The cron expression as configured.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.cron.as_str())
    }
}

impl FromStr for Schedule {
    type Err = ScheduleError;

    fn from_str(expr: &str) -> Result<Self, Self::Err> {
        Self::parse(expr)
    }
}

impl Schedule {
    /// Parses a cron expression of five fields: minute, hour, day of month,
    /// month and day of week, as in `0 15 * * *` or `30 2 * * MON-FRI`.
    ///
    /// # Errors
    /// [`ScheduleError::Invalid`] for anything else, including a seconds or
    /// year field and an expression that never fires (`0 0 30 2 *`).
    pub fn parse(expr: &str) -> Result<Self, ScheduleError> {
        let invalid = |problem: String| ScheduleError::Invalid { expression: expr.chars().take(64).collect(), problem };
        if expr.split_whitespace().count() != 5 && !expr.trim_start().starts_with('@') {
            return Err(invalid(format!("expected 5 fields, found {}", expr.split_whitespace().count())));
        }
        let cron = parser().parse(expr).map_err(|e| invalid(e.to_string()))?;
        let schedule = Self { cron };
        // Every pattern repeats within 400 years, so one that has no time
        // after the epoch never fires at all.
        if schedule.next_after(OffsetDateTime::UNIX_EPOCH).is_none() {
            return Err(invalid("it never fires (no such date)".to_owned()));
        }
        Ok(schedule)
    }

    /// The first time strictly after `t` at which the backup runs, on a whole
    /// minute, in UTC; `None` past the end of the calendar.
    #[must_use]
    pub fn next_after(&self, t: OffsetDateTime) -> Option<OffsetDateTime> {
        // Whole seconds first: croner then searches from the next second, and
        // a time on the schedule plus a fraction has its next run later.
        let from = DateTime::<Utc>::from_timestamp(t.unix_timestamp(), 0)?;
        let next = self.cron.find_next_occurrence(&from, false).ok()?;
        OffsetDateTime::from_unix_timestamp(next.timestamp()).ok()
    }
}

/// Minutes-only cron: a seconds field would let a typo run a full backup
/// every second, and a year field would make the schedule end.
fn parser() -> CronParser {
    CronParser::builder().seconds(Seconds::Disallowed).year(Year::Disallowed).build()
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use time::macros::datetime;

    use super::*;

    #[test]
    fn the_default_runs_at_15_utc_today_or_tomorrow() {
        let s = Schedule::default();
        assert_eq!(s, Schedule::parse(DEFAULT).unwrap());
        let cases = [
            (datetime!(2025-03-10 09:00 UTC), datetime!(2025-03-10 15:00 UTC), "morning: today"),
            (datetime!(2025-03-10 15:00 UTC), datetime!(2025-03-11 15:00 UTC), "on the minute: tomorrow"),
            (datetime!(2025-03-10 14:59:59.9 UTC), datetime!(2025-03-10 15:00 UTC), "just before"),
            (datetime!(2025-12-31 16:00 UTC), datetime!(2026-01-01 15:00 UTC), "over the year end"),
            (datetime!(2025-03-10 16:30 +02:00), datetime!(2025-03-10 15:00 UTC), "16:30 at +02:00 is 14:30 UTC"),
        ];
        for (t, want, case) in cases {
            assert_eq!(s.next_after(t), Some(want), "{case}");
        }
    }

    #[test]
    fn other_schedules_follow_cron() {
        let weekdays = Schedule::parse("30 2 * * MON-FRI").unwrap();
        // 2025-03-07 is a Friday: the next weekday run is Monday.
        assert_eq!(weekdays.next_after(datetime!(2025-03-07 03:00 UTC)), Some(datetime!(2025-03-10 02:30 UTC)));
        let leap = Schedule::parse("0 0 29 2 *").unwrap();
        assert_eq!(leap.next_after(datetime!(2025-01-01 00:00 UTC)), Some(datetime!(2028-02-29 00:00 UTC)));
        assert!(Schedule::parse("@daily").is_ok());
    }

    #[test]
    fn bad_expressions_are_refused_with_an_example() {
        let cases = [
            ("", "empty"),
            ("0 15 * *", "four fields"),
            ("0 0 15 * * *", "seconds field"),
            ("0 15 * * * 2030", "year field"),
            ("61 15 * * *", "minute out of range"),
            ("0 24 * * *", "hour out of range"),
            ("0 15 * * funday", "unknown day"),
            ("0 0 31 4 *", "never fires"),
        ];
        for (expr, case) in cases {
            let err = Schedule::parse(expr).expect_err(case);
            let msg = err.to_string();
            assert!(msg.contains(&format!("'{expr}'")) && msg.contains("'0 15 * * *'"), "{case}: {msg}");
        }
        assert!(Schedule::parse("0 0 31 4 *").unwrap_err().to_string().contains("never fires"));
    }

    proptest! {
        #[test]
        fn the_next_run_is_later_and_on_a_whole_minute(
            secs in -2_000_000_000i64..8_000_000_000,
            nanos in 0u32..1_000_000_000,
            expr in prop_oneof![
                Just("0 15 * * *"), Just("*/7 * * * *"), Just("59 23 31 12 *"), Just("0 0 29 2 *"),
                Just("15 3 1-7 * MON"), Just("0 */6 * * SAT,SUN"),
            ],
        ) {
            let t = OffsetDateTime::from_unix_timestamp(secs).unwrap() + time::Duration::nanoseconds(nanos.into());
            let next = Schedule::parse(expr).unwrap().next_after(t).unwrap();
            prop_assert!(next > t, "{next} after {t}");
            prop_assert_eq!((next.second(), next.nanosecond()), (0, 0));
            prop_assert!(next - t <= time::Duration::days(366 * 8 + 2), "leap days come every 8 years at worst");
        }
    }
}
