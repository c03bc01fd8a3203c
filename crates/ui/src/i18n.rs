//! Languages: English and Swedish, every string from a Fluent catalogue
//! (`locales/<lang>/main.ftl`), so a third language is one more file. The
//! language is the person's choice (the `valv_lang` cookie) or else the
//! first of the browser's `Accept-Language` (RFC 9110 §12.5.4) valv speaks.

use std::borrow::Cow;
use std::collections::HashMap;

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use fluent_templates::fluent_bundle::FluentValue;
use fluent_templates::{LanguageIdentifier, Loader as _, langid};

fluent_templates::static_loader! {
    static LOCALES = {
        locales: "./locales",
        fallback_language: "en",
        // Placeables without bidi isolation marks: the pages set `lang` and `dir` themselves.
        customise: |bundle| bundle.set_use_isolating(false),
    };
}

/// The cookie that holds a person's chosen language.
pub(crate) const LANG_COOKIE: &str = "valv_lang";

/// A language valv speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lang {
    En,
    Sv,
}

impl Lang {
    pub(crate) fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Sv => "sv",
        }
    }

    fn parse(tag: &str) -> Option<Self> {
        let primary = tag.trim().split(['-', '_', ';']).next()?.to_ascii_lowercase();
        match primary.as_str() {
            "en" => Some(Lang::En),
            "sv" => Some(Lang::Sv),
            _ => None,
        }
    }

    fn id(self) -> LanguageIdentifier {
        match self {
            Lang::En => langid!("en"),
            Lang::Sv => langid!("sv"),
        }
    }

    /// The first language of an `Accept-Language` list valv speaks, by
    /// weight (`q`), in order among equals.
    fn from_accept(value: &str) -> Option<Self> {
        let mut offered: Vec<(u16, usize, Lang)> = value
            .split(',')
            .enumerate()
            .filter_map(|(i, item)| {
                let mut parts = item.split(';');
                let lang = Lang::parse(parts.next()?)?;
                let q = parts.find_map(|p| p.trim().strip_prefix("q=")).map_or(Some(1000), weight)?;
                (q > 0).then_some((q, i, lang))
            })
            .collect();
        offered.sort_by_key(|(q, i, _)| (std::cmp::Reverse(*q), *i));
        offered.first().map(|(_, _, l)| *l)
    }
}

/// A weight `0.8` as thousandths; `None` when malformed.
fn weight(q: &str) -> Option<u16> {
    let v: f32 = q.trim().parse().ok()?;
    (0.0..=1.0).contains(&v).then(|| (v * 1000.0).round() as u16)
}

/// The strings of one language for a page.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Tr(pub(crate) Lang);

impl Tr {
    /// The message `key`.
    pub(crate) fn t(&self, key: &str) -> String {
        LOCALES.lookup(&self.0.id(), key)
    }

    /// A day as people write it here: "2 January 2027", "2 januari 2027"
    /// (UTC: a deadline's day is the same for the organisation and the subject).
    pub(crate) fn date(&self, t: time::OffsetDateTime) -> String {
        let t = t.to_offset(time::UtcOffset::UTC);
        let month = self.t(&format!("month-{}", u8::from(t.month())));
        format!("{} {month} {}", t.day(), t.year())
    }

    /// An instant as a day and a time of day in UTC, "2 January 2027, 14:05 UTC".
    pub(crate) fn date_time(&self, t: time::OffsetDateTime) -> String {
        let t = t.to_offset(time::UtcOffset::UTC);
        format!("{}, {:02}:{:02} UTC", self.date(t), t.hour(), t.minute())
    }

    /// The message `key` with its arguments.
    pub(crate) fn t_with(&self, key: &str, args: &[(&'static str, String)]) -> String {
        let args: HashMap<Cow<'static, str>, FluentValue<'_>> =
            args.iter().map(|(name, value)| (Cow::Borrowed(*name), FluentValue::from(value.as_str()))).collect();
        LOCALES.lookup_with_args(&self.0.id(), key, &args)
    }

    /// The message for the service's error `code`; the service's own
    /// (English) sentence where the catalogue has none.
    pub(crate) fn error(&self, code: &str, fallback: &str) -> String {
        LOCALES.try_lookup(&self.0.id(), &format!("error-{code}")).unwrap_or_else(|| fallback.to_owned())
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Tr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let chosen = valv_http::extract::cookie(&parts.headers, LANG_COOKIE).and_then(Lang::parse);
        let accepted = || {
            let value = parts.headers.get(header::ACCEPT_LANGUAGE)?.to_str().ok()?;
            Lang::from_accept(value)
        };
        Ok(Tr(chosen.or_else(accepted).unwrap_or(Lang::En)))
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn accept_language_is_read_by_weight() {
        assert_eq!(Lang::from_accept("sv-SE,sv;q=0.9,en;q=0.8"), Some(Lang::Sv));
        assert_eq!(Lang::from_accept("de, en;q=0.5, sv;q=0.7"), Some(Lang::Sv));
        assert_eq!(Lang::from_accept("fr, de"), None);
        assert_eq!(Lang::from_accept("sv;q=0, en"), Some(Lang::En), "q=0 means not wanted");
        assert_eq!(Lang::from_accept("en;q=2, sv"), Some(Lang::Sv), "a weight above 1 is malformed");
    }

    #[test]
    fn every_message_is_in_every_language() {
        let keys = |lang: &str| -> Vec<String> {
            let path = format!("{}/locales/{lang}/main.ftl", env!("CARGO_MANIFEST_DIR"));
            let text = std::fs::read_to_string(path).unwrap();
            let mut k: Vec<String> = text
                .lines()
                .filter(|l| !l.starts_with(['#', ' ']) && l.contains(" ="))
                .map(|l| l.split(" =").next().unwrap().to_owned())
                .collect();
            k.sort();
            k
        };
        assert_eq!(keys("en"), keys("sv"), "the Swedish catalogue has exactly the English keys");
        for lang in [Lang::En, Lang::Sv] {
            for key in keys("en") {
                // Every argument a message takes, so that each formats whole.
                let args = [
                    ("due", "1 May 2027"),
                    ("signature", "Eicar"),
                    ("count", "3"),
                    ("at", "2"),
                    ("reason", "x"),
                    ("done", "1"),
                    ("total", "2"),
                ]
                .map(|(name, value)| (name, value.to_owned()));
                let text = Tr(lang).t_with(&key, &args);
                assert!(!text.is_empty() && !text.contains("Unknown localization"), "{key} in {lang:?}");
            }
        }
    }

    proptest! {
        /// Any header value: no panic, and the answer is one valv speaks or none.
        #[test]
        fn any_accept_language_is_read_safely(v in ".{0,80}") {
            let _ = Lang::from_accept(&v);
        }
    }
}
