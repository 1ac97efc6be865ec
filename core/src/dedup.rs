//! The deduplication rules: when a repeated request is the same intent, and why the
//! server answered with something that already existed.

use crate::fingerprint::Fingerprint;
use crate::problem::{Problem, ProblemCode};
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

/// One use of an idempotency key: the endpoint it was sent to and its payload.
#[derive(Clone, Copy, Debug)]
pub struct KeyUse<'a> {
    pub endpoint: &'a str,
    pub fingerprint: &'a Fingerprint,
}

/// Compares a retry under an idempotency key with the request that first used it. The
/// same payload sent to another endpoint is another intent. The endpoint is compared on
/// its own rather than hashed into the fingerprint, so records stored without it in the
/// fingerprint keep replaying.
pub fn judge_key_reuse(first: KeyUse<'_>, retry: KeyUse<'_>) -> RetryVerdict {
    if first.endpoint != retry.endpoint {
        return RetryVerdict::Mismatch {
            differing_fields: vec!["endpoint".to_owned()],
        };
    }
    judge_retry(first.fingerprint, retry.fingerprint)
}

/// What a client named an intent by; a reuse for another intent is refused in its name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IntentName {
    IdempotencyKey,
    LocalId,
}

impl IntentName {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::IdempotencyKey => "idempotency_key",
            Self::LocalId => "local_id",
        }
    }

    /// The 422 refusal of a name reused for another intent, naming the fields that differ.
    pub fn reused(self, differing_fields: Vec<String>) -> Problem {
        let (code, first_use, remedy) = match self {
            Self::IdempotencyKey => (
                ProblemCode::IdempotencyKeyReused,
                "This Idempotency-Key was first used for a different request",
                "Make a new key for a new intent.",
            ),
            Self::LocalId => (
                ProblemCode::LocalIdReused,
                "This local_id names another message in this conversation",
                "Make a new local_id per message.",
            ),
        };
        let detail = format!(
            "{first_use} (differing: {}). {remedy}",
            differing_fields.join(", ")
        );
        Problem::new(code, detail).with_differing_fields(differing_fields)
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
    fn the_same_payload_at_another_endpoint_is_another_intent() {
        let payload = Fingerprint::of([("text", "hi")]);
        let at = |endpoint| KeyUse {
            endpoint,
            fingerprint: &payload,
        };
        assert_eq!(
            judge_key_reuse(at("POST /a"), at("POST /a")),
            RetryVerdict::Replay
        );
        assert_eq!(
            judge_key_reuse(at("POST /a"), at("POST /b")),
            RetryVerdict::Mismatch {
                differing_fields: vec!["endpoint".into()]
            }
        );
    }

    #[test]
    fn a_reused_name_is_refused_with_its_own_code_and_the_differing_fields() {
        for (name, code) in [
            (
                IntentName::IdempotencyKey,
                ProblemCode::IdempotencyKeyReused,
            ),
            (IntentName::LocalId, ProblemCode::LocalIdReused),
        ] {
            let problem = name.reused(vec!["text".into(), "sender".into()]);
            assert_eq!((problem.code, problem.status), (code, 422));
            assert_eq!(problem.differing_fields, ["text", "sender"]);
            assert!(problem.detail.contains("(differing: text, sender)"));
        }
    }

    #[test]
    fn the_reason_serializes_as_the_contract_shows() {
        assert_eq!(
            serde_json::to_value(DedupReason::NaturalKey).ok(),
            Some(serde_json::json!("natural_key"))
        );
    }
}
