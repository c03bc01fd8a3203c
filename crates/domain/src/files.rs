//! File names and folders. Names are stored in Unicode NFC (UAX #15), so two
//! names that differ only by normalisation are the same name; path
//! separators, control characters, `.` and `..` are refused, which closes path
//! traversal by construction.

use unicode_normalization::UnicodeNormalization as _;

use crate::Invalid;

/// Longest file name in bytes (as most file systems allow).
pub const MAX_NAME_BYTES: usize = 255;
/// Deepest folder nesting.
pub const MAX_DEPTH: usize = 32;

/// One file or folder name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct FileName(String);

/// A folder: `/` or `/a/b`, every segment a [`FileName`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Folder(String);

impl FileName {
    /// # Errors
    /// Empty, too long, `.`/`..`, separators or control characters.
    pub fn parse(s: &str) -> Result<Self, Invalid> {
        let n: String = s.nfc().collect();
        if n.is_empty() || n.len() > MAX_NAME_BYTES {
            return Err(Invalid::new("file_name", "must be 1 to 255 bytes"));
        }
        if n == "." || n == ".." {
            return Err(Invalid::new("file_name", "must not be . or .."));
        }
        if n.chars().any(|c| c == '/' || c == '\\' || c.is_control()) {
            return Err(Invalid::new("file_name", "must not contain /, \\ or control characters"));
        }
        if n.chars().any(crate::text::hidden) {
            return Err(Invalid::new("file_name", "must not contain invisible or text-direction characters"));
        }
        if n.trim() != n {
            return Err(Invalid::new("file_name", "must not start or end with spaces"));
        }
        Ok(Self(n))
    }

    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Folder {
    /// # Errors
    /// Not starting with `/`, too deep, or a segment that is not a valid name.
    pub fn parse(s: &str) -> Result<Self, Invalid> {
        let rest = s.strip_prefix('/').ok_or(Invalid::new("folder", "must start with /"))?;
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        if rest.is_empty() {
            return Ok(Self("/".into()));
        }
        let segments: Vec<&str> = rest.split('/').collect();
        if segments.len() > MAX_DEPTH {
            return Err(Invalid::new("folder", "may nest at most 32 folders"));
        }
        let mut out = String::new();
        for seg in segments {
            let name = FileName::parse(seg).map_err(|_| Invalid::new("folder", "has an invalid folder name"))?;
            out.push('/');
            out.push_str(name.as_str());
        }
        Ok(Self(out))
    }

    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

macro_rules! string_conv {
    ($t:ty) => {
        impl TryFrom<String> for $t {
            type Error = Invalid;
            fn try_from(s: String) -> Result<Self, Invalid> {
                Self::parse(&s)
            }
        }
        impl From<$t> for String {
            fn from(v: $t) -> String {
                v.0
            }
        }
        impl std::fmt::Display for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}
string_conv!(FileName);
string_conv!(Folder);

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn traversal_and_control_characters_are_refused() {
        for bad in ["", ".", "..", "../etc/passwd", "a/b", "a\\b", "a\u{0}b", "bell\u{7}", " lead", &"x".repeat(256)] {
            assert!(FileName::parse(bad).is_err(), "{bad:?}");
        }
        assert!(FileName::parse("Rapport 2026 (slutlig).pdf").is_ok());
    }

    #[test]
    fn names_differing_only_by_normalisation_are_one_name() {
        let composed = FileName::parse("caf\u{e9}.txt").unwrap();
        let decomposed = FileName::parse("cafe\u{301}.txt").unwrap();
        assert_eq!(composed, decomposed);
    }

    #[test]
    fn folders_are_normalised() {
        assert_eq!(Folder::parse("/").unwrap().as_str(), "/");
        assert_eq!(Folder::parse("/a/b/").unwrap().as_str(), "/a/b");
        for bad in ["a", "/a/../b", "/a//b", "/./x"] {
            assert!(Folder::parse(bad).is_err(), "{bad}");
        }
    }

    proptest! {
        #[test]
        fn parsed_names_never_hold_separators(s in "\\PC{0,40}") {
            if let Ok(n) = FileName::parse(&s) {
                prop_assert!(!n.as_str().contains('/') && n.as_str() != "..");
                prop_assert_eq!(FileName::parse(n.as_str()).unwrap(), n.clone());
            }
        }

        /// Fuzzing upload names and folders with any characters at all (format,
        /// bidi and control ones included): never a panic, and nothing accepted
        /// that could climb out of its folder or read as something else.
        #[test]
        fn any_name_or_folder_is_judged_safely(s in "(\\PC|\\p{Cf}|\\p{Cc}|/|\\.){0,60}") {
            if let Ok(n) = FileName::parse(&s) {
                prop_assert!(n.as_str().len() <= 255);
                prop_assert!(!n.as_str().chars().any(|c| c == '/' || c.is_control() || crate::text::hidden(c)));
            }
            if let Ok(f) = Folder::parse(&s) {
                prop_assert!(f.as_str().starts_with('/'));
                prop_assert!(!f.as_str().split('/').any(|seg| seg == ".." || seg == "."));
                let again = Folder::parse(f.as_str()).unwrap();
                prop_assert_eq!(again.as_str(), f.as_str());
            }
        }
    }
}
