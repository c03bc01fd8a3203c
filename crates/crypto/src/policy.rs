//! The password policy: at least 12 characters, a zxcvbn score of at least 3,
//! and nothing that contains the user's name, the local part of their e-mail
//! address or the organisation's name, compared after Unicode compatibility
//! decomposition, without diacritics and in lower case on both sides. A
//! refusal carries a warning that names the rule, and suggestions a person
//! can act on, ahead of the strength meter's own.

use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;

pub const MIN_LENGTH: usize = 12;
pub const MIN_SCORE: u8 = 3;

/// What the strength meter says about a password.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Feedback {
    /// 0 (guessable) to 4 (very hard to guess).
    pub score: u8,
    pub warning: Option<String>,
    pub suggestions: Vec<String>,
}

/// Why a password was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    /// Stable code: `password_too_short`, `password_too_weak`, `password_contains_personal_data`.
    pub code: &'static str,
    pub message: String,
    pub feedback: Feedback,
}

/// Checks `password` against the policy. `personal` holds what must not appear
/// in it: the user's name, their e-mail address, the organisation's name.
///
/// # Errors
/// A [`Refused`] naming the first rule broken, with the meter's feedback.
pub fn check(password: &SecretString, personal: &[&str]) -> Result<Feedback, Refused> {
    let pw = password.expose_secret();
    let words = personal_words(personal);
    let inputs: Vec<&str> = words.iter().map(String::as_str).collect();
    let feedback = meter(pw, &inputs);
    // A refusal never reads as "strong": the meter's score is capped below the
    // bar, and the rule broken comes first in what the person is told.
    let refuse = |code, message: &str, warning: &str, tip: &str| {
        let mut fb = feedback.clone();
        fb.score = fb.score.min(MIN_SCORE - 1);
        fb.warning = Some(warning.to_owned());
        fb.suggestions.insert(0, tip.to_owned());
        Refused { code, message: message.to_owned(), feedback: fb }
    };
    if pw.chars().count() < MIN_LENGTH {
        return Err(refuse(
            "password_too_short",
            "Use at least 12 characters.",
            "This password is shorter than 12 characters.",
            "Put together a few uncommon words: longer is stronger, and easier to remember than symbols.",
        ));
    }
    let folded = fold(pw);
    if words.iter().any(|w| folded.contains(w.as_str())) {
        return Err(refuse(
            "password_contains_personal_data",
            "The password must not contain your name, your e-mail address or your organisation's name.",
            "It contains your name, your e-mail address or your organisation's name, which others can guess.",
            "Leave out names, and use words nobody would link to you.",
        ));
    }
    if feedback.score < MIN_SCORE {
        let mut fb = feedback.clone();
        if fb.warning.is_none() && fb.suggestions.is_empty() {
            fb.suggestions.push("Add another uncommon word or two.".to_owned());
        }
        return Err(Refused {
            code: "password_too_weak",
            message: "This password is too easy to guess.".into(),
            feedback: fb,
        });
    }
    Ok(feedback)
}

/// Text as compared: compatibility-decomposed, diacritics removed, lower
/// case. `Ångström`, `ANGSTROM` and `angström` are one word.
fn fold(s: &str) -> String {
    use unicode_normalization::UnicodeNormalization as _;
    s.nfkd().filter(|c| !unicode_normalization::char::is_combining_mark(*c)).collect::<String>().to_lowercase()
}

/// Folded words of three or more characters from names and e-mail local parts.
fn personal_words(personal: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    for p in personal {
        let p = fold(p.split('@').next().unwrap_or_default());
        let compact: String = p.chars().filter(|c| c.is_alphanumeric()).collect();
        for w in p.split(|c: char| !c.is_alphanumeric()).chain([compact.as_str()]) {
            if w.chars().count() >= 3 && !out.iter().any(|o| o == w) {
                out.push(w.to_owned());
            }
        }
    }
    out
}

fn meter(pw: &str, inputs: &[&str]) -> Feedback {
    let entropy = zxcvbn::zxcvbn(pw, inputs);
    let fb = entropy.feedback();
    Feedback {
        score: u8::from(entropy.score()),
        warning: fb.and_then(|f| f.warning()).map(|w| w.to_string()),
        suggestions: fb.map(|f| f.suggestions().iter().map(ToString::to_string).collect()).unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_str(pw: &str) -> Result<Feedback, Refused> {
        check(&SecretString::from(pw.to_owned()), &["Astrid Lindgren", "astrid.l@example.se", "Acme Bank"])
    }

    #[test]
    fn refusals_name_the_rule() {
        let cases = [
            ("short", "password_too_short"),
            ("passwordpassword", "password_too_weak"),
            ("Lindgren-river-7-kayak", "password_contains_personal_data"),
            ("kayak.acme.riverbed.44", "password_contains_personal_data"),
        ];
        for (pw, code) in cases {
            assert_eq!(check_str(pw).map_err(|r| r.code), Err(code), "case {pw}");
        }
    }

    #[test]
    fn weak_password_gets_tips() {
        let r = check_str("passwordpassword").unwrap_err();
        assert!(r.feedback.score < MIN_SCORE);
        assert!(r.feedback.warning.is_some() || !r.feedback.suggestions.is_empty());
    }

    #[test]
    fn personal_words_match_whatever_the_case_and_diacritics() {
        let ada = |pw: &str| check(&SecretString::from(pw.to_owned()), &["Ångström Lind", "a@x.se", "Acme AB"]);
        for pw in ["angstrom-river-9xyz", "ANGSTROM-river-9xyz", "Angström-river-9xyz", "Ångström-river-9xyz"] {
            assert_eq!(ada(pw).map_err(|r| r.code), Err("password_contains_personal_data"), "{pw}");
        }
    }

    #[test]
    fn every_refusal_says_why_and_what_to_do_and_never_reads_as_strong() {
        for pw in ["short", "passwordpassword", "Lindgren-river-7-kayak"] {
            let r = check_str(pw).unwrap_err();
            assert!(r.feedback.score < MIN_SCORE, "{pw}: {:?}", r.feedback);
            assert!(r.feedback.warning.is_some() && !r.feedback.suggestions.is_empty(), "{pw}: {:?}", r.feedback);
        }
    }

    #[test]
    fn strong_password_passes() {
        let fb = check_str("violet-tundra-92-oboe-quill").unwrap();
        assert!(fb.score >= MIN_SCORE);
    }
}
