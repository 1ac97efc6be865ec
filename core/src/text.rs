//! Message text: what a person may send.

use serde::{Deserialize, Serialize};
use std::fmt;
use thiserror::Error;

/// The text of a message: not blank, at most [`MessageText::MAX_CHARS`] characters, and
/// no control characters other than line breaks and tabs. Kept exactly as typed.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct MessageText(String);

#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum MessageTextError {
    #[error("the message is empty")]
    Blank,
    #[error("the message is {len} characters long; at most {max} are allowed", max = MessageText::MAX_CHARS)]
    TooLong { len: usize },
    #[error("the message holds a control character (U+{code:04X})")]
    ControlCharacter { code: u32 },
}

impl MessageText {
    pub const MAX_CHARS: usize = 4000;

    pub fn parse(text: &str) -> Result<Self, MessageTextError> {
        if text.trim().is_empty() {
            return Err(MessageTextError::Blank);
        }
        if let Some(c) = text
            .chars()
            .find(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
        {
            return Err(MessageTextError::ControlCharacter { code: c.into() });
        }
        let len = text.chars().count();
        if len > Self::MAX_CHARS {
            return Err(MessageTextError::TooLong { len });
        }
        Ok(Self(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for MessageText {
    type Error = MessageTextError;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<MessageText> for String {
    fn from(text: MessageText) -> Self {
        text.0
    }
}

impl AsRef<str> for MessageText {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for MessageText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn message_text_rules() {
        use MessageTextError as E;
        let cases: &[(&str, Result<(), E>)] = &[
            ("Hello", Ok(())),
            ("  Hi there\n\tline two  ", Ok(())),
            ("日本語 👋", Ok(())),
            ("", Err(E::Blank)),
            (" \n\t ", Err(E::Blank)),
            ("\u{3000}", Err(E::Blank)),
            ("nul\0byte", Err(E::ControlCharacter { code: 0 })),
            ("bell\u{7}", Err(E::ControlCharacter { code: 7 })),
        ];
        for (input, expected) in cases {
            assert_eq!(
                MessageText::parse(input).map(|_| ()),
                *expected,
                "input {input:?}"
            );
        }
    }

    #[test]
    fn the_limit_counts_characters_not_bytes() {
        assert!(MessageText::parse(&"é".repeat(MessageText::MAX_CHARS)).is_ok());
        assert_eq!(
            MessageText::parse(&"é".repeat(MessageText::MAX_CHARS + 1)),
            Err(MessageTextError::TooLong {
                len: MessageText::MAX_CHARS + 1
            })
        );
    }

    proptest! {
        #[test]
        fn printable_text_with_a_visible_character_is_kept_verbatim(
            text in "[ \\n]{0,3}[^\\p{C}\\s][^\\p{C}]{0,200}"
        ) {
            prop_assert_eq!(MessageText::parse(&text).map(String::from), Ok(text));
        }

        #[test]
        fn parsing_never_panics(text in "\\PC{0,100}|[\\x00-\\x1f]{1,5}") {
            let _ = MessageText::parse(&text);
        }
    }
}
