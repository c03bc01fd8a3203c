//! Deadlines for data-subject requests (GDPR Art. 12(3)): the controller answers
//! "without undue delay and in any event within one month of receipt"; the period
//! "may be extended by two further months where necessary", and the subject is told
//! of the extension, with its reasons, within the first month.
//!
//! All arithmetic is in UTC from the instant of receipt. A month ends on the same
//! day of the month at the same time of day; when that day does not exist in the
//! target month (31 Jan + 1 month), the period ends on the last day of that month
//! (28 or 29 Feb). This follows the common reading of Regulation 1182/71
//! Art. 3(2)(c) for periods in months, except that the period ends at the time of
//! receipt rather than at the end of that day: up to a day early, the safe side.

use time::{Date, Duration, OffsetDateTime, UtcOffset};

/// Adds `months` calendar months to `t`, in UTC.
///
/// The result keeps the UTC day of the month and time of day of `t`; when that day
/// does not exist in the target month it is clamped to the month's last day
/// (31 Mar + 1 = 30 Apr; 29 Feb 2024 + 12 = 28 Feb 2025). An input with another
/// offset is converted to UTC first, so the result is always in UTC. Results past
/// 9999-12-31 saturate at that date, keeping the time of day.
#[must_use]
pub fn add_months(t: OffsetDateTime, months: u8) -> OffsetDateTime {
    let Some(utc) = t.checked_to_offset(UtcOffset::UTC) else {
        // Only an instant whose UTC date would be in year 10000 gets here; nothing later fits.
        return t;
    };
    let date = shift_date(utc.date(), months).unwrap_or(Date::MAX);
    utc.replace_date(date)
}

/// The date `months` calendar months after `date`, or `None` past the last
/// representable date.
///
/// Common reading of Regulation 1182/71 Art. 3(2)(c): a period in months ends on
/// the same date in the last month or, when that month has no such date, on its
/// last day. Because clamped dates keep their time of day, a later receipt can fall
/// due up to a day earlier (30 Jan 23:00 and 31 Jan 01:00 both end on 28 Feb).
fn shift_date(date: Date, months: u8) -> Option<Date> {
    let index = u16::from(u8::from(date.month()) - 1) + u16::from(months);
    let year = date.year().checked_add(i32::from(index / 12))?;
    let month = date.month().nth_next(months % 12);
    let day = date.day().min(month.length(year));
    Date::from_calendar_date(year, month, day).ok()
}

/// The deadline of one data-subject request: when it was received and by how many
/// months (0, 1 or 2) it has been extended.
///
/// Build it with [`RequestDeadline::new`] and grow it with [`RequestDeadline::extend`],
/// which enforce the limits of Art. 12(3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RequestDeadline {
    /// The instant the request was received; the period runs from here.
    #[serde(with = "time::serde::rfc3339")]
    pub received_at: OffsetDateTime,
    /// Months added to the first month: 0, 1 or 2.
    pub extended_by: u8,
}

/// Why an extension was refused. Each message states the rule for the operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DeadlineError {
    /// The extension was asked for once the first month had ended.
    #[error(
        "too late to extend: the data subject must be told of an extension within one month of receipt \
         (GDPR Art. 12(3)), and that month has ended"
    )]
    TooLate,
    /// The extensions would add up to more than two months.
    #[error("too long: a request may be extended by at most two further months in total (GDPR Art. 12(3))")]
    TooLong,
    /// The extension was for zero months.
    #[error("an extension must add at least one month")]
    Zero,
}

/// Where a request stands against its deadline. Stored as text (STYLE.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeadlineStatus {
    /// Due later than the warning window.
    Open,
    /// Due within the warning window, or due right now.
    DueSoon,
    /// The deadline has passed.
    Overdue,
}

impl RequestDeadline {
    /// A request received at `received_at`, not extended.
    #[must_use]
    pub const fn new(received_at: OffsetDateTime) -> Self {
        Self { received_at, extended_by: 0 }
    }

    /// The instant by which the answer is due: one month after receipt, plus the extension.
    #[must_use]
    pub fn due(&self) -> OffsetDateTime {
        add_months(self.received_at, self.extended_by.saturating_add(1))
    }

    /// The end of the first month, by which any extension must be told to the subject.
    #[must_use]
    pub fn first_month_ends(&self) -> OffsetDateTime {
        add_months(self.received_at, 1)
    }

    /// This deadline extended by `months` more, asked for at `now`.
    ///
    /// # Errors
    /// [`DeadlineError::Zero`] when `months` is 0; [`DeadlineError::TooLate`] when `now`
    /// is at or after [`Self::first_month_ends`]; [`DeadlineError::TooLong`] when the
    /// extensions would total more than two months. Checked in that order.
    pub fn extend(&self, months: u8, now: OffsetDateTime) -> Result<Self, DeadlineError> {
        if months == 0 {
            return Err(DeadlineError::Zero);
        }
        // Art. 12(3): the subject is told of the extension "within one month of receipt".
        if now >= self.first_month_ends() {
            return Err(DeadlineError::TooLate);
        }
        // Art. 12(3): "by two further months", in total however many steps it takes.
        match self.extended_by.checked_add(months) {
            Some(total) if total <= 2 => Ok(Self { extended_by: total, ..*self }),
            _ => Err(DeadlineError::TooLong),
        }
    }

    /// Where the request stands at `now`: overdue after [`Self::due`], due soon when at
    /// most `warn_before` remains, open otherwise.
    #[must_use]
    pub fn status(&self, now: OffsetDateTime, warn_before: Duration) -> DeadlineStatus {
        let due = self.due();
        if now > due {
            DeadlineStatus::Overdue
        } else if due - now <= warn_before {
            DeadlineStatus::DueSoon
        } else {
            DeadlineStatus::Open
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use time::macros::datetime;

    #[test]
    fn add_months_follows_the_month_end_rule() {
        let cases = [
            (
                "31 Jan + 1 in 2023 clamps to 28 Feb",
                datetime!(2023-01-31 10:00 UTC),
                1,
                datetime!(2023-02-28 10:00 UTC),
            ),
            (
                "31 Jan + 1 in leap 2024 clamps to 29 Feb",
                datetime!(2024-01-31 10:00 UTC),
                1,
                datetime!(2024-02-29 10:00 UTC),
            ),
            ("2100 is not a leap year", datetime!(2100-01-31 10:00 UTC), 1, datetime!(2100-02-28 10:00 UTC)),
            ("2000 is a leap year", datetime!(2000-01-31 10:00 UTC), 1, datetime!(2000-02-29 10:00 UTC)),
            ("31 Mar + 1 clamps to 30 Apr", datetime!(2023-03-31 08:15 UTC), 1, datetime!(2023-04-30 08:15 UTC)),
            (
                "29 Feb 2024 + 12 clamps to 28 Feb 2025",
                datetime!(2024-02-29 12:00 UTC),
                12,
                datetime!(2025-02-28 12:00 UTC),
            ),
            ("29 Feb 2024 + 48 is 29 Feb 2028", datetime!(2024-02-29 12:00 UTC), 48, datetime!(2028-02-29 12:00 UTC)),
            ("15 Jan + 1 keeps the day", datetime!(2024-01-15 09:30:15.5 UTC), 1, datetime!(2024-02-15 09:30:15.5 UTC)),
            ("15 Dec + 1 rolls into January", datetime!(2024-12-15 23:59 UTC), 1, datetime!(2025-01-15 23:59 UTC)),
            ("31 Dec + 2 rolls over and clamps", datetime!(2024-12-31 00:00 UTC), 2, datetime!(2025-02-28 00:00 UTC)),
            ("30 Nov + 3 rolls over and clamps", datetime!(2023-11-30 06:00 UTC), 3, datetime!(2024-02-29 06:00 UTC)),
            ("zero months is the same instant", datetime!(2024-05-31 07:00 UTC), 0, datetime!(2024-05-31 07:00 UTC)),
            ("255 months", datetime!(2024-01-31 07:00 UTC), 255, datetime!(2045-04-30 07:00 UTC)),
            // 00:30 on 1 Mar at +02:00 is 22:30 on 29 Feb in UTC.
            (
                "+02:00 after midnight is the UTC day before",
                datetime!(2024-03-01 00:30 +2),
                1,
                datetime!(2024-03-29 22:30 UTC),
            ),
            // 1 Apr locally would give 1 May; in UTC it is 31 Mar, which clamps to 30 Apr.
            ("+02:00 after midnight clamps in UTC", datetime!(2023-04-01 01:00 +2), 1, datetime!(2023-04-30 23:00 UTC)),
            ("past year 9999 saturates", datetime!(9999-12-15 18:00 UTC), 1, datetime!(9999-12-31 18:00 UTC)),
        ];
        for (name, t, months, want) in cases {
            let got = add_months(t, months);
            assert_eq!(got, want, "{name}");
            assert_eq!(got.offset(), UtcOffset::UTC, "{name}: result is in UTC");
        }
    }

    #[test]
    fn a_later_receipt_can_fall_due_earlier_when_both_clamp_to_the_same_month_end() {
        // Why monotonicity only holds for dates: both clamp to 28 Feb and keep their time.
        let (early, late) = (datetime!(2023-01-30 23:00 UTC), datetime!(2023-01-31 01:00 UTC));
        let (a, b) = (add_months(early, 1), add_months(late, 1));
        assert_eq!((a, b), (datetime!(2023-02-28 23:00 UTC), datetime!(2023-02-28 01:00 UTC)));
        assert!(a - b < Duration::DAY);
    }

    const RECEIVED: OffsetDateTime = datetime!(2024-01-31 12:00 UTC);

    #[test]
    fn extensions_are_allowed_within_the_first_month_up_to_two_months() {
        let ends = datetime!(2024-02-29 12:00 UTC);
        let cases = [
            ("one month on the last day before the first month ends", 0, 1, datetime!(2024-02-29 11:59 UTC), Ok(1)),
            ("one month a nanosecond before it ends", 0, 1, ends - Duration::NANOSECOND, Ok(1)),
            ("two months at once", 0, 2, datetime!(2024-02-01 00:00 UTC), Ok(2)),
            ("a second month after a first", 1, 1, datetime!(2024-02-10 00:00 UTC), Ok(2)),
            ("exactly when the first month ends", 0, 1, ends, Err(DeadlineError::TooLate)),
            ("after the first month ended", 0, 1, datetime!(2024-03-15 00:00 UTC), Err(DeadlineError::TooLate)),
            ("three months at once", 0, 3, datetime!(2024-02-01 00:00 UTC), Err(DeadlineError::TooLong)),
            ("two more after one", 1, 2, datetime!(2024-02-01 00:00 UTC), Err(DeadlineError::TooLong)),
            ("a third month after two", 2, 1, datetime!(2024-02-01 00:00 UTC), Err(DeadlineError::TooLong)),
            ("a total that overflows u8", 255, 1, datetime!(2024-02-01 00:00 UTC), Err(DeadlineError::TooLong)),
            ("zero months", 0, 0, datetime!(2024-02-01 00:00 UTC), Err(DeadlineError::Zero)),
            ("zero months, even too late", 0, 0, ends, Err(DeadlineError::Zero)),
            ("too late wins over too long", 0, 3, ends, Err(DeadlineError::TooLate)),
        ];
        for (name, extended_by, months, now, want) in cases {
            let deadline = RequestDeadline { received_at: RECEIVED, extended_by };
            assert_eq!(deadline.first_month_ends(), ends, "{name}");
            let got = deadline.extend(months, now).map(|d| d.extended_by);
            assert_eq!(got, want, "{name}");
        }
    }

    #[test]
    fn due_counts_the_first_month_and_the_extension() {
        let cases = [
            ("not extended", 0, datetime!(2024-02-29 12:00 UTC)),
            ("extended by one month", 1, datetime!(2024-03-31 12:00 UTC)),
            ("extended by two months", 2, datetime!(2024-04-30 12:00 UTC)),
        ];
        for (name, months, want) in cases {
            let mut deadline = RequestDeadline::new(RECEIVED);
            if months > 0 {
                deadline = deadline.extend(months, RECEIVED).unwrap();
            }
            assert_eq!(deadline.due(), want, "{name}");
            assert_eq!(deadline.received_at, RECEIVED, "{name}: receipt unchanged");
        }
    }

    #[test]
    fn status_warns_before_the_deadline_and_flags_it_once_passed() {
        let deadline = RequestDeadline::new(datetime!(2024-01-15 00:00 UTC));
        let three_days = Duration::days(3);
        let cases = [
            ("well before", deadline, datetime!(2024-02-01 00:00 UTC), DeadlineStatus::Open),
            ("just outside the window", deadline, datetime!(2024-02-11 23:59:59 UTC), DeadlineStatus::Open),
            ("at the start of the window", deadline, datetime!(2024-02-12 00:00 UTC), DeadlineStatus::DueSoon),
            ("at the due instant", deadline, datetime!(2024-02-15 00:00 UTC), DeadlineStatus::DueSoon),
            ("a nanosecond late", deadline, datetime!(2024-02-15 00:00:00.000_000_001 UTC), DeadlineStatus::Overdue),
            (
                "open again once extended",
                RequestDeadline { extended_by: 2, ..deadline },
                datetime!(2024-03-20 00:00 UTC),
                DeadlineStatus::Open,
            ),
        ];
        for (name, d, now, want) in cases {
            assert_eq!(d.status(now, three_days), want, "{name}");
        }
    }

    #[test]
    fn values_serialize_as_rfc3339_and_snake_case_text() {
        let deadline = RequestDeadline { received_at: RECEIVED, extended_by: 1 };
        let json = serde_json::to_string(&deadline).unwrap();
        assert_eq!(json, r#"{"received_at":"2024-01-31T12:00:00Z","extended_by":1}"#);
        assert_eq!(serde_json::from_str::<RequestDeadline>(&json).unwrap(), deadline);
        assert_eq!(serde_json::to_string(&DeadlineStatus::DueSoon).unwrap(), r#""due_soon""#);
        assert_eq!(serde_json::from_str::<DeadlineStatus>(r#""overdue""#).unwrap(), DeadlineStatus::Overdue);
    }

    #[test]
    fn error_messages_state_the_rule() {
        assert!(DeadlineError::TooLate.to_string().contains("within one month of receipt"));
        assert!(DeadlineError::TooLong.to_string().contains("at most two further months"));
        assert!(DeadlineError::Zero.to_string().contains("at least one month"));
    }

    /// Any instant from 1970 up to 2200, at any offset within a day of UTC.
    fn instant() -> impl Strategy<Value = OffsetDateTime> {
        (0i64..7_258_118_400, 0u32..1_000_000_000, -86_399i32..=86_399).prop_map(|(secs, nanos, offset)| {
            let utc = OffsetDateTime::from_unix_timestamp(secs).unwrap() + Duration::nanoseconds(i64::from(nanos));
            utc.to_offset(UtcOffset::from_whole_seconds(offset).unwrap())
        })
    }

    /// Whether `to_utc(t)`'s day did not exist in `r`'s month, so `r` took its last day.
    fn clamped(t: OffsetDateTime, r: OffsetDateTime) -> bool {
        t.to_offset(UtcOffset::UTC).day() > r.month().length(r.year())
    }

    /// An instant in the last four days of a month, where clamping happens, in UTC.
    fn month_end() -> impl Strategy<Value = OffsetDateTime> {
        (1970i32..2200, 1u8..=12, 0u8..4, 0i64..86_400_000_000_000).prop_map(|(year, month, back, nanos)| {
            let month = time::Month::try_from(month).unwrap();
            let date = Date::from_calendar_date(year, month, month.length(year) - back).unwrap();
            date.midnight().assume_utc() + Duration::nanoseconds(nanos)
        })
    }

    /// Two instants in order: anywhere in the range, or within two days of each other.
    fn ordered_pair() -> impl Strategy<Value = (OffsetDateTime, OffsetDateTime)> {
        let gap = 0i64..2 * 86_400_000_000_000;
        prop_oneof![
            (instant(), instant()).prop_map(|(a, b)| if a <= b { (a, b) } else { (b, a) }),
            (instant(), gap.clone()).prop_map(|(a, gap)| (a, a + Duration::nanoseconds(gap))),
            (month_end(), gap).prop_map(|(a, gap)| (a, a + Duration::nanoseconds(gap))),
        ]
    }

    proptest! {
        #[test]
        fn the_result_lies_between_the_input_and_31_days_a_month_later(t in instant(), m in 0u8..=24) {
            let r = add_months(t, m);
            prop_assert!(r >= t);
            prop_assert!(r <= t + Duration::days(31 * i64::from(m)));
        }

        #[test]
        fn the_day_of_month_is_kept_unless_clamped_to_the_last_day(t in instant(), m in 0u8..=24) {
            let (utc, r) = (t.to_offset(UtcOffset::UTC), add_months(t, m));
            if clamped(t, r) {
                prop_assert_eq!(r.day(), r.month().length(r.year()));
            } else {
                prop_assert_eq!(r.day(), utc.day());
            }
        }

        #[test]
        fn the_utc_time_of_day_is_kept(t in instant(), m in 0u8..=24) {
            let r = add_months(t, m);
            prop_assert_eq!(r.offset(), UtcOffset::UTC);
            prop_assert_eq!(r.time(), t.to_offset(UtcOffset::UTC).time());
        }

        #[test]
        fn later_inputs_never_give_earlier_results_except_within_a_clamped_day((a, b) in ordered_pair(), m in 0u8..=24) {
            let (ra, rb) = (add_months(a, m), add_months(b, m));
            prop_assert!(ra.date() <= rb.date());
            // Instants reverse only when both land on the same clamped month end (see the unit test above).
            prop_assert!(ra <= rb || (ra.date() == rb.date() && clamped(b, rb)), "{a} -> {ra}, {b} -> {rb}");
        }

        #[test]
        fn due_is_always_after_receipt(t in instant(), extended_by in 0u8..=2) {
            let deadline = RequestDeadline { received_at: t, extended_by };
            prop_assert!(deadline.due() > t);
            prop_assert!(deadline.due() > deadline.first_month_ends() || extended_by == 0);
        }
    }
}
