//! One textual form for instants: RFC 3339 in UTC with exactly six fractional
//! digits. Fixed width, so the text sorts in time order; the journal hashes it.

use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, UtcOffset};

/// `2026-11-23T15:00:00.000000Z`.
///
/// Digits are placed into a fixed buffer rather than through `format!`: an
/// export of a million records writes several million of these.
#[must_use]
pub fn stamp(t: OffsetDateTime) -> String {
    let t = t.to_offset(UtcOffset::UTC);
    let Ok(year) = u32::try_from(t.year()) else { return formatted(t) };
    if year > 9999 {
        return formatted(t);
    }
    let mut b = *b"0000-00-00T00:00:00.000000Z";
    let fields = [
        (0..4, year),
        (5..7, u32::from(u8::from(t.month()))),
        (8..10, u32::from(t.day())),
        (11..13, u32::from(t.hour())),
        (14..16, u32::from(t.minute())),
        (17..19, u32::from(t.second())),
        (20..26, t.microsecond()),
    ];
    for (range, mut v) in fields {
        for d in b[range].iter_mut().rev() {
            *d = b'0' + (v % 10) as u8;
            v /= 10;
        }
    }
    b.iter().map(|&c| char::from(c)).collect()
}

/// The same text for years outside 0..=9999.
fn formatted(t: OffsetDateTime) -> String {
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.microsecond()
    )
}

/// Parses any RFC 3339 instant.
///
/// # Errors
/// When `s` is not RFC 3339.
pub fn parse_stamp(s: &str) -> Result<OffsetDateTime, crate::Invalid> {
    OffsetDateTime::parse(s, &Rfc3339).map_err(|_| crate::Invalid::new("time", "must be an RFC 3339 instant"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn stamps_round_trip_and_sort_like_time(a in 0i64..4_000_000_000_000_000, b in 0i64..4_000_000_000_000_000) {
            let ta = OffsetDateTime::from_unix_timestamp_nanos(i128::from(a) * 1000).unwrap();
            let tb = OffsetDateTime::from_unix_timestamp_nanos(i128::from(b) * 1000).unwrap();
            prop_assert_eq!(parse_stamp(&stamp(ta)).unwrap(), ta);
            prop_assert_eq!(stamp(ta).cmp(&stamp(tb)), ta.cmp(&tb));
        }

        #[test]
        fn stamps_are_the_formatted_text(us in -200_000_000_000_000_000i64..253_402_300_800_000_000) {
            let t = OffsetDateTime::from_unix_timestamp_nanos(i128::from(us) * 1000).unwrap();
            prop_assert_eq!(stamp(t), formatted(t));
        }
    }
}
