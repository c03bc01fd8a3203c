//! Whole numbers in request bodies, however JSON writes them. JSON Schema
//! counts `3.0` as an integer (JSON Schema Validation §6.1.1: "a number
//! with a zero fractional part"), so a field the API describes as an
//! integer accepts it; `3.5` stays refused. Use with
//! `#[serde(deserialize_with = "whole::number")]` (or `whole::optional`).

use serde::{Deserialize, Deserializer, de::Error as _};

#[derive(Deserialize)]
#[serde(untagged)]
enum Written {
    Integer(u64),
    Number(f64),
}

/// A whole number that fits `T`.
///
/// # Errors
/// A fraction, a negative number, or one too large for `T`.
pub fn number<'de, D: Deserializer<'de>, T: TryFrom<u64>>(d: D) -> Result<T, D::Error> {
    let n = match Written::deserialize(d)? {
        Written::Integer(n) => n,
        // Exact: below 2^53 every whole f64 is the integer it says; beyond, it is refused.
        Written::Number(f) if f.fract() == 0.0 && (0.0..9_007_199_254_740_992.0).contains(&f) => f as u64,
        Written::Number(f) => return Err(D::Error::custom(format!("{f} is not a whole number of zero or more"))),
    };
    T::try_from(n).map_err(|_| D::Error::custom(format!("{n} is too large here")))
}

/// [`number`], or absent (`null`).
///
/// # Errors
/// As [`number`].
pub fn optional<'de, D: Deserializer<'de>, T: TryFrom<u64>>(d: D) -> Result<Option<T>, D::Error> {
    #[derive(Deserialize)]
    struct Wrap<T: TryFrom<u64>>(#[serde(deserialize_with = "number")] T);
    Ok(Option::<Wrap<T>>::deserialize(d)?.map(|Wrap(n)| n))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    struct Body {
        #[serde(deserialize_with = "super::number")]
        n: u8,
        #[serde(default, deserialize_with = "super::optional")]
        o: Option<u32>,
    }

    fn read(json: &str) -> Result<Body, serde_json::Error> {
        serde_json::from_str(json)
    }

    #[test]
    fn whole_numbers_are_read_however_written() {
        assert_eq!(read(r#"{"n": 2.0, "o": 169.0}"#).unwrap().o, Some(169));
        assert_eq!(read(r#"{"n": 2}"#).unwrap().n, 2);
        assert!(read(r#"{"n": 2, "o": null}"#).unwrap().o.is_none());
        for bad in [r#"{"n": 2.5}"#, r#"{"n": -1}"#, r#"{"n": 256}"#, r#"{"n": 1e300}"#, r#"{"n": "2"}"#] {
            assert!(read(bad).is_err(), "{bad}");
        }
    }

    proptest! {
        /// Any u32, written plain or with `.0`, reads back as itself; any
        /// number with a fraction is refused.
        #[test]
        fn any_whole_number_reads_back(n in any::<u32>(), frac in 1u32..1000) {
            let plain = read(&format!(r#"{{"n": 1, "o": {n}}}"#)).unwrap().o;
            let dotted = read(&format!(r#"{{"n": 1, "o": {n}.0}}"#)).unwrap().o;
            prop_assert_eq!(plain, Some(n));
            prop_assert_eq!(dotted, Some(n));
            let fraction = format!(r#"{{"n": 1, "o": {n}.{frac:03}}}"#);
            prop_assert!(read(&fraction).is_err(), "{}", fraction);
        }
    }
}
