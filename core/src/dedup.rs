//! The deduplication rules: when a repeated request is the same intent, and why the
//! server answered with something that already existed.

use crate::fingerprint::Fingerprint;
use serde::{Deserialize, Serialize};

/// Why a create answered with something that already existed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum DedupReason {
    /// A conversation for the same (context, creator) existed already, made with another
    /// key or in another tab. The UI says "You already contacted this agency".
    NaturalKey,
}

/// What to do with a request that repeats a key (or a message's `local_id`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RetryVerdict {
    /// Same intent: answer with what the first request stored.
    Replay,
    /// Same key, another intent: refuse, naming the fields that differ.
    Mismatch { differing_fields: Vec<String> },
}

/// Compares a retry with the request that first used its key. The one rule behind both
/// idempotency keys and message `local_id`s.
pub fn judge_retry(first: &Fingerprint, retry: &Fingerprint) -> RetryVerdict {
    let differing_fields = first.differing_fields(retry);
    if differing_fields.is_empty() {
        RetryVerdict::Replay
    } else {
        RetryVerdict::Mismatch { differing_fields }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_repeat_of_the_same_payload_replays() {
        let first = Fingerprint::of([("text", "hi"), ("local_id", "m1")]);
        assert_eq!(judge_retry(&first, &first.clone()), RetryVerdict::Replay);
    }

    #[test]
    fn another_payload_under_the_same_key_is_a_mismatch() {
        let first = Fingerprint::of([("text", "hi"), ("sender", "alice")]);
        let retry = Fingerprint::of([("text", "hi"), ("sender", "bob")]);
        assert_eq!(
            judge_retry(&first, &retry),
            RetryVerdict::Mismatch {
                differing_fields: vec!["sender".into()]
            }
        );
    }

    #[test]
    fn the_reason_serializes_as_the_contract_shows() {
        assert_eq!(
            serde_json::to_value(DedupReason::NaturalKey).ok(),
            Some(serde_json::json!("natural_key"))
        );
    }
}
