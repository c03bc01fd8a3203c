//! Textual values people type: e-mail addresses, mobile numbers, names, slugs.
//! Each parses into a newtype with a private field (STYLE.md: parse, don't validate).

use crate::Invalid;

macro_rules! text_type {
    ($(#[$doc:meta])* $name:ident, $parse:path) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// Parses user input into this type.
            ///
            /// # Errors
            /// When the input is not well formed; the error says why.
            pub fn parse(s: &str) -> Result<Self, Invalid> {
                $parse(s).map(Self)
            }

            #[must_use]
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = Invalid;
            fn try_from(s: String) -> Result<Self, Invalid> {
                Self::parse(&s)
            }
        }

        impl From<$name> for String {
            fn from(v: $name) -> String {
                v.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

text_type!(
    /// An e-mail address (RFC 5321 lengths, a pragmatic subset of RFC 5322 syntax).
    Email,
    parse_email
);
text_type!(
    /// A mobile number in E.164 form: `+`, country code, at most 15 digits.
    Phone,
    parse_phone
);
text_type!(
    /// A person's name as they write it.
    PersonName,
    parse_person_name
);
text_type!(
    /// An organisation's display name.
    TenantName,
    parse_tenant_name
);
text_type!(
    /// A short, URL-safe handle for a tenant, used at sign-in.
    Slug,
    parse_slug
);

impl Email {
    /// The local part (before `@`), used by the password policy.
    #[must_use]
    pub fn local_part(&self) -> &str {
        self.0.split('@').next().unwrap_or_default()
    }

    /// The form used for uniqueness: addresses differing only in case are one.
    #[must_use]
    pub fn normalized(&self) -> String {
        self.0.to_lowercase()
    }
}

fn plain_text(s: &str, kind: &'static str, max: usize) -> Result<String, Invalid> {
    let t = s.trim();
    if t.is_empty() {
        return Err(Invalid::new(kind, "must not be empty"));
    }
    if t.chars().count() > max {
        return Err(Invalid::new(kind, "is too long"));
    }
    if t.chars().any(char::is_control) {
        return Err(Invalid::new(kind, "must not contain control characters"));
    }
    if t.chars().any(hidden) {
        return Err(Invalid::new(kind, "must not contain invisible or text-direction characters"));
    }
    Ok(t.to_owned())
}

/// An invisible formatting character (Unicode category Cf): text-direction
/// overrides and isolates, zero-width spaces, the byte-order mark. In a
/// name they only serve to make it read as something else (review L12:
/// `invoice\u{202E}fdp.exe` shows as `invoiceexe.pdf`). The zero-width
/// joiner and non-joiner are kept: Persian, Indic scripts and emoji need them.
pub(crate) fn hidden(c: char) -> bool {
    use unicode_properties::{GeneralCategory, UnicodeGeneralCategory as _};
    c.general_category() == GeneralCategory::Format && c != '\u{200C}' && c != '\u{200D}'
}

fn parse_person_name(s: &str) -> Result<String, Invalid> {
    plain_text(s, "name", 200)
}

fn parse_tenant_name(s: &str) -> Result<String, Invalid> {
    plain_text(s, "tenant_name", 200)
}

fn parse_email(s: &str) -> Result<String, Invalid> {
    const KIND: &str = "email";
    let t = s.trim();
    // RFC 5321 §4.5.3.1: 64 octets local part, 254 in a usable path.
    if t.len() > 254 {
        return Err(Invalid::new(KIND, "is too long"));
    }
    let (local, domain) = t.rsplit_once('@').ok_or(Invalid::new(KIND, "must contain an @"))?;
    let local_ok = !local.is_empty()
        && local.len() <= 64
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && local.chars().all(|c| c.is_alphanumeric() || "!#$%&'*+-/=?^_`{|}~.".contains(c));
    if !local_ok {
        return Err(Invalid::new(KIND, "has an invalid part before the @"));
    }
    let labels: Vec<&str> = domain.split('.').collect();
    let domain_ok = labels.len() >= 2
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_alphanumeric() || c == '-')
        });
    if !domain_ok {
        return Err(Invalid::new(KIND, "has an invalid domain"));
    }
    Ok(t.to_owned())
}

fn parse_phone(s: &str) -> Result<String, Invalid> {
    const KIND: &str = "phone";
    // People write spaces and hyphens; E.164 has neither, so drop them first.
    let compact: String = s.trim().chars().filter(|c| !matches!(c, ' ' | '-')).collect();
    let digits =
        compact.strip_prefix('+').ok_or(Invalid::new(KIND, "must start with + and the country code (E.164)"))?;
    // ITU-T E.164: at most 15 digits, country codes never start with 0.
    let ok = (8..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()) && !digits.starts_with('0');
    if !ok {
        return Err(Invalid::new(KIND, "must be + followed by 8 to 15 digits (E.164)"));
    }
    Ok(compact)
}

fn parse_slug(s: &str) -> Result<String, Invalid> {
    const KIND: &str = "slug";
    let ok = (2..=63).contains(&s.len())
        && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-');
    if ok {
        Ok(s.to_owned())
    } else {
        Err(Invalid::new(KIND, "must be 2 to 63 characters of a-z, 0-9 and inner hyphens"))
    }
}

impl Slug {
    /// A slug proposed from an organisation name ("Acme Bank AB" -> "acme-bank-ab").
    #[must_use]
    pub fn suggest(name: &TenantName) -> Option<Self> {
        let mut out = String::new();
        for c in name.as_str().to_lowercase().chars() {
            if c.is_ascii_alphanumeric() {
                out.push(c);
            } else if !out.ends_with('-') && !out.is_empty() {
                out.push('-');
            }
        }
        let trimmed: String = out.trim_end_matches('-').chars().take(63).collect();
        Self::parse(trimmed.trim_end_matches('-')).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn accepts_and_refuses_emails() {
        for ok in ["a@b.se", "first.last+tag@example.co.uk", "Ünï@exämple.de"] {
            assert!(Email::parse(ok).is_ok(), "{ok} should be accepted");
        }
        for bad in ["", "plain", "@x.se", "a@", "a@b", "a..b@x.se", "a b@x.se", "a@-x.se", "<script>@x.se"] {
            assert!(Email::parse(bad).is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn accepts_and_refuses_phones() {
        assert_eq!(Phone::parse("+46 70-123 45 67").map(String::from), Ok("+46701234567".into()));
        for bad in ["0701234567", "+0123456789", "+12", "+4670123456789012", "+46abc12345"] {
            assert!(Phone::parse(bad).is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn slugs_are_suggested_from_names() {
        let n = TenantName::parse("Acme Bank AB").unwrap();
        assert_eq!(Slug::suggest(&n).map(String::from), Some("acme-bank-ab".into()));
    }

    #[test]
    fn names_refuse_control_characters_and_empty() {
        assert!(PersonName::parse("  ").is_err());
        assert!(PersonName::parse("Eve\u{0}").is_err());
        assert!(PersonName::parse("O'Brien <b>&</b>").is_ok());
    }

    #[test]
    fn names_refuse_invisible_and_text_direction_characters_but_keep_joiners() {
        for bad in ["Eve \u{202E}resu_nimda", "a\u{2066}b", "zero\u{200B}width", "\u{FEFF}bom", "rlm\u{200F}"] {
            assert!(PersonName::parse(bad).is_err(), "{bad:?} should be refused");
            assert!(crate::files::FileName::parse(bad).is_err(), "{bad:?} as a file name too");
        }
        assert!(crate::files::FileName::parse("invoice\u{202E}fdp.exe").is_err(), "review L12");
        for ok in ["می\u{200C}خواهم", "👩\u{200D}💻 Ada", "Ångström"] {
            assert!(PersonName::parse(ok).is_ok(), "{ok:?} should be accepted");
        }
    }

    proptest! {
        #[test]
        fn email_parse_never_panics_and_is_idempotent(s in "\\PC{0,80}") {
            if let Ok(e) = Email::parse(&s) {
                prop_assert_eq!(Email::parse(e.as_str()), Ok(e.clone()));
                prop_assert!(e.as_str().contains('@'));
            }
        }

        #[test]
        fn phone_parse_yields_e164(s in "[+0-9 -]{0,24}") {
            if let Ok(p) = Phone::parse(&s) {
                let d = &p.as_str()[1..];
                prop_assert!(p.as_str().starts_with('+'));
                prop_assert!(d.len() <= 15 && d.bytes().all(|b| b.is_ascii_digit()));
            }
        }

        #[test]
        fn suggested_slugs_always_parse(s in "\\PC{1,80}") {
            if let Ok(n) = TenantName::parse(&s)
                && let Some(slug) = Slug::suggest(&n)
            {
                prop_assert!(Slug::parse(slug.as_str()).is_ok());
            }
        }
    }
}
