//! A request's fingerprint: what a retry must repeat to count as the same intent.
//!
//! Each meaningful field is hashed on its own, so a mismatch can name the fields that
//! differ without the server keeping a second copy of the payload.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// Field path (`initial_message.text`) to the hex SHA-256 of its canonical value.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Fingerprint(BTreeMap<String, String>);

impl Fingerprint {
    /// Builds a fingerprint from `(field path, value)` pairs.
    pub fn of<'a>(fields: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        Self(
            fields
                .into_iter()
                .map(|(path, value)| (path.to_owned(), hex_sha256(value.as_bytes())))
                .collect(),
        )
    }

    /// The field paths whose values differ between the two, sorted.
    pub fn differing_fields(&self, other: &Self) -> Vec<String> {
        let mut paths: Vec<String> = self
            .0
            .iter()
            .filter(|(path, hash)| other.0.get(*path) != Some(hash))
            .map(|(path, _)| path.clone())
            .chain(
                other
                    .0
                    .keys()
                    .filter(|path| !self.0.contains_key(*path))
                    .cloned(),
            )
            .collect();
        paths.sort();
        paths.dedup();
        paths
    }
}

/// Something whose retries must match it field by field.
pub trait Fingerprinted {
    fn fingerprint(&self) -> Fingerprint;
}

fn hex_sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn equal_fields_give_equal_fingerprints_in_any_order() {
        let a = Fingerprint::of([("text", "hi"), ("local_id", "m1")]);
        let b = Fingerprint::of([("local_id", "m1"), ("text", "hi")]);
        assert_eq!(a, b);
        assert!(a.differing_fields(&b).is_empty());
    }

    #[test]
    fn differing_fields_are_named() {
        let a = Fingerprint::of([("text", "hi"), ("local_id", "m1"), ("context_id", "x")]);
        let b = Fingerprint::of([("text", "hello"), ("local_id", "m1"), ("context_id", "y")]);
        assert_eq!(a.differing_fields(&b), vec!["context_id", "text"]);
        assert_ne!(a, b);
    }

    #[test]
    fn a_field_present_on_one_side_only_differs() {
        let a = Fingerprint::of([("text", "hi")]);
        let b = Fingerprint::of([("text", "hi"), ("sender", "u1")]);
        assert_eq!(a.differing_fields(&b), vec!["sender"]);
        assert_eq!(b.differing_fields(&a), vec!["sender"]);
    }

    #[test]
    fn the_stored_form_round_trips() {
        let a = Fingerprint::of([("text", "hi")]);
        let json = serde_json::to_string(&a).expect("serializes");
        assert_eq!(serde_json::from_str::<Fingerprint>(&json).ok(), Some(a));
    }

    proptest! {
        #[test]
        fn fingerprints_differ_exactly_when_some_field_differs(
            a in "\\PC{0,30}", b in "\\PC{0,30}", c in "\\PC{0,30}", d in "\\PC{0,30}"
        ) {
            let x = Fingerprint::of([("one", a.as_str()), ("two", b.as_str())]);
            let y = Fingerprint::of([("one", c.as_str()), ("two", d.as_str())]);
            let same = a == c && b == d;
            prop_assert_eq!(x == y, same);
            prop_assert_eq!(x.differing_fields(&y).is_empty(), same);
        }
    }
}
