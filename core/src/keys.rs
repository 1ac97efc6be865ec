//! Client-made keys: the [`IdempotencyKey`] that names one intent, and the [`LocalId`]
//! that names one message. The client makes each once and reuses it on every retry.

use serde::{Deserialize, Serialize};
use std::fmt;
use thiserror::Error;
use uuid::Uuid;

/// Names one intent of one user (`Idempotency-Key` header).
///
/// 1 to 255 visible ASCII characters (`!` to `~`). The header may carry it bare
/// (`Idempotency-Key: 8e0f...`) or as an RFC 8941 string (`Idempotency-Key: "8e0f..."`),
/// the form the IETF draft specifies; both name the same key. A value that starts with
/// `"` is read as the quoted form, so a key that itself starts with `"` must be quoted.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(value_type = String))]
pub struct IdempotencyKey(String);

#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum IdempotencyKeyError {
    #[error("the Idempotency-Key is empty")]
    Empty,
    #[error("the Idempotency-Key is {len} characters long; at most {max} are allowed", max = IdempotencyKey::MAX_LEN)]
    TooLong { len: usize },
    #[error(
        "the Idempotency-Key may only hold visible ASCII characters; found {found:?} at position {position}"
    )]
    InvalidCharacter { found: char, position: usize },
    #[error("the quoted Idempotency-Key has no closing quote")]
    UnterminatedQuote,
    #[error("the quoted Idempotency-Key has an escape other than \\\" or \\\\")]
    InvalidEscape,
    #[error("the quoted Idempotency-Key has characters after its closing quote")]
    TrailingCharacters,
}

impl IdempotencyKey {
    pub const MAX_LEN: usize = 255;

    /// A new random key (UUID v4), as the browser makes on mount.
    pub fn generate() -> Self {
        Self(Uuid::new_v4().hyphenated().to_string())
    }

    /// Parses a header value, bare or as an RFC 8941 quoted string.
    pub fn parse_header(value: &str) -> Result<Self, IdempotencyKeyError> {
        let value = value.trim_matches([' ', '\t']);
        match value.strip_prefix('"') {
            Some(quoted) => Self::parse(&unquote_sf_string(quoted)?),
            None => Self::parse(value),
        }
    }

    /// Parses the key itself (no quotes).
    pub fn parse(key: &str) -> Result<Self, IdempotencyKeyError> {
        if key.is_empty() {
            return Err(IdempotencyKeyError::Empty);
        }
        if let Some((position, found)) =
            key.chars().enumerate().find(|(_, c)| !c.is_ascii_graphic())
        {
            return Err(IdempotencyKeyError::InvalidCharacter { found, position });
        }
        if key.len() > Self::MAX_LEN {
            return Err(IdempotencyKeyError::TooLong { len: key.len() });
        }
        Ok(Self(key.to_owned()))
    }

    /// The key as an RFC 8941 string, ready for a header.
    pub fn to_sf_string(&self) -> String {
        let mut out = String::with_capacity(self.0.len() + 2);
        out.push('"');
        for c in self.0.chars() {
            if matches!(c, '"' | '\\') {
                out.push('\\');
            }
            out.push(c);
        }
        out.push('"');
        out
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The body of an RFC 8941 sf-string after its opening quote (section 4.2.5).
fn unquote_sf_string(rest: &str) -> Result<String, IdempotencyKeyError> {
    let mut out = String::with_capacity(rest.len());
    let mut chars = rest.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(escaped @ ('"' | '\\')) => out.push(escaped),
                Some(_) => return Err(IdempotencyKeyError::InvalidEscape),
                None => return Err(IdempotencyKeyError::UnterminatedQuote),
            },
            '"' if chars.as_str().is_empty() => return Ok(out),
            '"' => return Err(IdempotencyKeyError::TrailingCharacters),
            ' '..='~' => out.push(c),
            found => {
                return Err(IdempotencyKeyError::InvalidCharacter {
                    found,
                    position: out.chars().count(),
                });
            }
        }
    }
    Err(IdempotencyKeyError::UnterminatedQuote)
}

impl TryFrom<String> for IdempotencyKey {
    type Error = IdempotencyKeyError;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<IdempotencyKey> for String {
    fn from(key: IdempotencyKey) -> Self {
        key.0
    }
}

impl AsRef<str> for IdempotencyKey {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for IdempotencyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Names one message within its conversation, made by the client when the message is
/// first composed: 1 to 64 characters of `[A-Za-z0-9._:-]` (a UUID fits).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(value_type = String))]
pub struct LocalId(String);

#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum LocalIdError {
    #[error("local_id is empty")]
    Empty,
    #[error("local_id is {len} characters long; at most {max} are allowed", max = LocalId::MAX_LEN)]
    TooLong { len: usize },
    #[error(
        "local_id may only hold letters, digits, '.', '_', ':' and '-'; found {found:?} at position {position}"
    )]
    InvalidCharacter { found: char, position: usize },
}

impl LocalId {
    pub const MAX_LEN: usize = 64;

    /// A new random local id (UUID v4).
    pub fn generate() -> Self {
        Self(Uuid::new_v4().hyphenated().to_string())
    }

    pub fn parse(value: &str) -> Result<Self, LocalIdError> {
        if value.is_empty() {
            return Err(LocalIdError::Empty);
        }
        let allowed = |c: &char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | ':' | '-');
        if let Some((position, found)) = value.chars().enumerate().find(|(_, c)| !allowed(c)) {
            return Err(LocalIdError::InvalidCharacter { found, position });
        }
        if value.len() > Self::MAX_LEN {
            return Err(LocalIdError::TooLong { len: value.len() });
        }
        Ok(Self(value.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for LocalId {
    type Error = LocalIdError;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<LocalId> for String {
    fn from(id: LocalId) -> Self {
        id.0
    }
}

impl AsRef<str> for LocalId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for LocalId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn idempotency_key_header_forms() {
        use IdempotencyKeyError as E;
        let ok = |s: &str| IdempotencyKey::parse_header(s).map(|k| k.0);
        let cases: &[(&str, Result<&str, E>)] = &[
            ("abc", Ok("abc")),
            ("  abc\t", Ok("abc")),
            ("\"abc\"", Ok("abc")),
            (" \"abc\" ", Ok("abc")),
            (r#""a\"b\\c""#, Ok(r#"a"b\c"#)),
            (
                "8e0f2a1c-9a4b-4c55-b1f3-0f1e2d3c4b5a",
                Ok("8e0f2a1c-9a4b-4c55-b1f3-0f1e2d3c4b5a"),
            ),
            ("", Err(E::Empty)),
            ("   ", Err(E::Empty)),
            ("\"\"", Err(E::Empty)),
            (
                "a b",
                Err(E::InvalidCharacter {
                    found: ' ',
                    position: 1,
                }),
            ),
            (
                "\"a b\"",
                Err(E::InvalidCharacter {
                    found: ' ',
                    position: 1,
                }),
            ),
            (
                "ké",
                Err(E::InvalidCharacter {
                    found: 'é',
                    position: 1,
                }),
            ),
            ("\"abc", Err(E::UnterminatedQuote)),
            ("\"abc\\", Err(E::UnterminatedQuote)),
            (r#""a\nb""#, Err(E::InvalidEscape)),
            ("\"abc\"def", Err(E::TrailingCharacters)),
            (
                "\"a\u{7f}\"",
                Err(E::InvalidCharacter {
                    found: '\u{7f}',
                    position: 1,
                }),
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(
                ok(input).as_deref().map_err(Clone::clone),
                expected.clone(),
                "input {input:?}"
            );
        }
    }

    #[test]
    fn idempotency_key_length_limit_is_255() {
        assert!(IdempotencyKey::parse(&"k".repeat(255)).is_ok());
        assert_eq!(
            IdempotencyKey::parse(&"k".repeat(256)),
            Err(IdempotencyKeyError::TooLong { len: 256 })
        );
    }

    #[test]
    fn generated_keys_and_local_ids_are_valid_and_distinct() {
        let (a, b) = (IdempotencyKey::generate(), IdempotencyKey::generate());
        assert_ne!(a, b);
        assert_eq!(IdempotencyKey::parse(a.as_str()), Ok(a));
        let (x, y) = (LocalId::generate(), LocalId::generate());
        assert_ne!(x, y);
        assert_eq!(LocalId::parse(x.as_str()), Ok(x));
    }

    #[test]
    fn local_id_rules() {
        use LocalIdError as E;
        let cases: &[(&str, Result<(), E>)] = &[
            ("m1", Ok(())),
            ("tab-3:msg_7.retry", Ok(())),
            ("", Err(E::Empty)),
            (
                "a/b",
                Err(E::InvalidCharacter {
                    found: '/',
                    position: 1,
                }),
            ),
            (
                " a",
                Err(E::InvalidCharacter {
                    found: ' ',
                    position: 0,
                }),
            ),
            (
                "ü",
                Err(E::InvalidCharacter {
                    found: 'ü',
                    position: 0,
                }),
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(
                LocalId::parse(input).map(|_| ()),
                *expected,
                "input {input:?}"
            );
        }
        assert!(LocalId::parse(&"a".repeat(64)).is_ok());
        assert_eq!(LocalId::parse(&"a".repeat(65)), Err(E::TooLong { len: 65 }));
    }

    #[test]
    fn keys_deserialize_only_when_valid() {
        assert!(serde_json::from_str::<LocalId>("\"ok-1\"").is_ok());
        assert!(serde_json::from_str::<LocalId>("\"not ok\"").is_err());
        assert!(serde_json::from_str::<IdempotencyKey>("\"\"").is_err());
    }

    proptest! {
        #[test]
        fn any_visible_ascii_key_parses_bare_and_quoted(key in "[!-~]{1,255}") {
            let parsed = IdempotencyKey::parse(&key).expect("valid key");
            prop_assert_eq!(IdempotencyKey::parse_header(&parsed.to_sf_string()), Ok(parsed.clone()));
            // A leading quote marks the quoted form, so such a key must be sent quoted.
            if !key.starts_with('"') {
                prop_assert_eq!(IdempotencyKey::parse_header(&key), Ok(parsed));
            }
        }

        #[test]
        fn keys_with_an_invisible_character_are_refused(
            prefix in "[!-~]{0,20}", bad in "[\\x00-\\x20\\x7f-\\u{10ffff}]", suffix in "[!-~]{0,20}"
        ) {
            let key = format!("{prefix}{bad}{suffix}");
            // Surrounding spaces and tabs are header whitespace, not part of the key.
            prop_assume!(!key.starts_with([' ', '\t']) && !key.ends_with([' ', '\t']));
            prop_assert!(IdempotencyKey::parse_header(&key).is_err());
        }

        #[test]
        fn header_parsing_never_panics(value in "\\PC{0,300}") {
            let _ = IdempotencyKey::parse_header(&value);
        }

        #[test]
        fn local_ids_in_the_alphabet_parse(id in "[A-Za-z0-9._:-]{1,64}") {
            prop_assert_eq!(LocalId::parse(&id).map(String::from), Ok(id));
        }

        #[test]
        fn local_ids_outside_the_alphabet_are_refused(id in "\\PC{1,80}") {
            let valid = id.len() <= 64
                && id.chars().all(|c| c.is_ascii_alphanumeric() || ".:_-".contains(c));
            prop_assert_eq!(LocalId::parse(&id).is_ok(), valid);
        }
    }
}
