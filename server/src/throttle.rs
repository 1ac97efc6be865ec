//! How often sign-in may be tried.

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use std::num::NonZeroU32;

/// Sign-in attempts per username.
pub type SignInLimiter = DefaultKeyedRateLimiter<String>;

/// A burst of 5 attempts per username, then one every 12 seconds.
pub fn sign_in_limiter() -> SignInLimiter {
    RateLimiter::keyed(Quota::per_minute(
        NonZeroU32::new(5).expect("a non-zero quota"),
    ))
}
