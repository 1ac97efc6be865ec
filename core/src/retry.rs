//! The client's retry policy: which failures are worth retrying and how long to wait.
//! Retrying is always safe here because every retry carries the same key and local_id;
//! the policy only decides whether it can help.

use crate::problem::ProblemCode;
use std::time::Duration;

/// How a request failed, as the client saw it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    /// No response: offline, connection reset, DNS, CORS.
    Network,
    /// The client gave up waiting.
    Timeout,
    /// The server answered with an error status (and maybe a problem code).
    Status {
        status: u16,
        code: Option<ProblemCode>,
    },
}

impl Failure {
    /// Whether the same request may succeed later. A 4xx that describes the request
    /// itself (validation, a reused key, not found) never will.
    pub fn is_retryable(self) -> bool {
        match self {
            Self::Network | Self::Timeout => true,
            Self::Status { status, code } => match code {
                Some(
                    ProblemCode::IdempotencyKeyInFlight
                    | ProblemCode::RateLimited
                    | ProblemCode::RequestTimeout
                    | ProblemCode::Unavailable,
                ) => true,
                Some(_) if status < 500 => false,
                _ => matches!(status, 408 | 425 | 429 | 500 | 502 | 503 | 504),
            },
        }
    }
}

/// Exponential backoff with full jitter (AWS Architecture Blog, "Exponential Backoff
/// and Jitter", 2015), never sooner than the server's `Retry-After`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    /// The ceiling of the first wait.
    pub base: Duration,
    /// No wait is longer than this (nor is a `Retry-After` followed past it).
    pub max: Duration,
    /// How many retries after the first attempt; `None` retries for ever (the outbox).
    pub max_retries: Option<u32>,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            base: Duration::from_millis(500),
            max: Duration::from_secs(30),
            max_retries: Some(5),
        }
    }
}

impl Backoff {
    /// Retries for as long as the failure is one a retry can fix: the chat outbox (a
    /// message someone wrote is never given up on; offline for an hour is still "not
    /// sent yet"), the live stream's reconnection and the catch-up after it.
    pub fn until_it_works() -> Self {
        Self {
            max_retries: None,
            ..Self::default()
        }
    }

    /// The wait before retry number `retry` (0 for the first retry), or `None` when the
    /// failure is not retryable or the retries are used up.
    ///
    /// `jitter` is a random number in `[0, 1)` from the caller, which keeps this pure.
    pub fn delay(
        &self,
        retry: u32,
        failure: Failure,
        jitter: f64,
        retry_after: Option<Duration>,
    ) -> Option<Duration> {
        if !failure.is_retryable() || self.max_retries.is_some_and(|max| retry >= max) {
            return None;
        }
        let ceiling = self
            .base
            .saturating_mul(2u32.saturating_pow(retry.min(31)))
            .min(self.max);
        // NaN would make mul_f64 panic; treat it (and infinities) as no jitter.
        let jitter = if jitter.is_finite() {
            jitter.clamp(0.0, 1.0)
        } else {
            0.0
        };
        let jittered = ceiling.mul_f64(jitter);
        Some(jittered.max(retry_after.unwrap_or_default()).min(self.max))
    }
}

impl Backoff {
    /// The wait before a retry made without asking the person (the compose dialog's):
    /// only while the server asks for patience with `Retry-After` (a request in flight,
    /// rate limited, unavailable). Any other failure goes back to the person, whose own
    /// retry reuses the same key and local_id.
    pub fn delay_when_asked(
        &self,
        retry: u32,
        failure: Failure,
        jitter: f64,
        retry_after: Option<Duration>,
    ) -> Option<Duration> {
        retry_after?;
        self.delay(retry, failure, jitter, retry_after)
    }
}

/// Parses a `Retry-After` header in its delta-seconds form, the one this server sends.
/// An HTTP-date (or anything else) gives `None`, and the backoff alone decides.
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    value.parse::<u64>().ok().map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn status(status: u16, code: Option<ProblemCode>) -> Failure {
        Failure::Status { status, code }
    }

    #[test]
    fn which_failures_are_retried() {
        let cases = [
            (Failure::Network, true),
            (Failure::Timeout, true),
            (status(409, Some(ProblemCode::IdempotencyKeyInFlight)), true),
            (status(429, Some(ProblemCode::RateLimited)), true),
            (status(503, None), true),
            (status(502, None), true),
            (status(500, Some(ProblemCode::Internal)), true),
            (status(408, None), true),
            (status(422, Some(ProblemCode::IdempotencyKeyReused)), false),
            (status(422, Some(ProblemCode::ValidationFailed)), false),
            (status(400, Some(ProblemCode::IdempotencyKeyMissing)), false),
            (status(404, Some(ProblemCode::NotFound)), false),
            (status(401, None), false),
            (status(409, None), false),
        ];
        for (failure, retryable) in cases {
            assert_eq!(failure.is_retryable(), retryable, "{failure:?}");
        }
    }

    #[test]
    fn waits_grow_then_stop() {
        let backoff = Backoff::default();
        let full = |n| backoff.delay(n, Failure::Network, 0.999_999, None);
        assert!(full(0) < full(1) && full(1) < full(2));
        assert_eq!(full(5), None);
        assert_eq!(
            backoff.delay(
                0,
                status(422, Some(ProblemCode::ValidationFailed)),
                0.5,
                None
            ),
            None
        );
    }

    #[test]
    fn the_outbox_never_gives_up_on_what_a_retry_can_fix() {
        let outbox = Backoff::until_it_works();
        assert_eq!(
            outbox.delay(10_000, Failure::Network, 1.0, None),
            Some(outbox.max)
        );
        let refused = status(422, Some(ProblemCode::ValidationFailed));
        assert_eq!(outbox.delay(0, refused, 1.0, None), None);
    }

    #[test]
    fn retry_after_is_a_floor_capped_by_the_maximum() {
        let backoff = Backoff::until_it_works();
        let in_flight = status(409, Some(ProblemCode::IdempotencyKeyInFlight));
        assert_eq!(
            backoff.delay(0, in_flight, 0.0, Some(Duration::from_secs(2))),
            Some(Duration::from_secs(2))
        );
        assert_eq!(
            backoff.delay(0, in_flight, 0.0, Some(Duration::from_secs(3600))),
            Some(backoff.max)
        );
        assert_eq!(
            backoff.delay(1000, Failure::Network, 1.0, None),
            Some(backoff.max)
        );
    }

    #[test]
    fn a_retry_without_the_person_waits_only_when_the_server_asked() {
        let backoff = Backoff::default();
        let in_flight = status(409, Some(ProblemCode::IdempotencyKeyInFlight));
        let asked = Some(Duration::from_secs(1));
        assert_eq!(
            backoff.delay_when_asked(0, in_flight, 0.0, asked),
            Some(Duration::from_secs(1))
        );
        assert_eq!(
            backoff.delay_when_asked(0, Failure::Timeout, 0.5, None),
            None
        );
        assert_eq!(
            backoff.delay_when_asked(0, status(503, None), 0.5, None),
            None
        );
        let refused = status(422, Some(ProblemCode::ValidationFailed));
        assert_eq!(backoff.delay_when_asked(0, refused, 0.5, asked), None);
        assert_eq!(backoff.delay_when_asked(5, in_flight, 0.5, asked), None);
    }

    #[test]
    fn retry_after_header_forms() {
        assert_eq!(parse_retry_after("2"), Some(Duration::from_secs(2)));
        assert_eq!(parse_retry_after(" 120 "), Some(Duration::from_secs(120)));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), None);
        assert_eq!(parse_retry_after("-1"), None);
        assert_eq!(parse_retry_after(""), None);
        assert_eq!(parse_retry_after("99999999999999999999999"), None);
    }

    proptest! {
        #[test]
        fn a_wait_is_never_negative_nor_above_the_maximum(
            retry in 0u32..100,
            jitter in prop_oneof![-1.0f64..2.0, Just(f64::NAN), Just(f64::INFINITY)],
            after in proptest::option::of(0u64..100_000),
        ) {
            let backoff = Backoff { max_retries: None, ..Backoff::default() };
            let after = after.map(Duration::from_millis);
            let delay = backoff.delay(retry, Failure::Network, jitter, after).expect("retryable");
            prop_assert!(delay <= backoff.max);
            if let Some(after) = after {
                prop_assert!(delay >= after.min(backoff.max));
            }
        }

        #[test]
        fn retry_after_parsing_never_panics(value in "\\PC{0,40}") {
            let _ = parse_retry_after(&value);
        }
    }
}
