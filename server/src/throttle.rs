//! How often sign-in may be tried. Limits are per client address and per (username,
//! address), never per username alone: guessing alice's password from one address must
//! not lock alice out everywhere (OWASP Authentication Cheat Sheet, "Account Lockout").
//! The state is bounded: keys are short, pruned once refilled, and capped in number.

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::Duration;

/// Attempts from one address, for any usernames: a burst of 30, then one every 2 s.
const PER_ADDRESS_PER_MINUTE: u32 = 30;
/// Attempts for one username from one address: a burst of 5, then one every 12 s.
const PER_ACCOUNT_PER_MINUTE: u32 = 5;
/// Keys tracked at most in each limiter (about 100 bytes each).
const MAX_TRACKED: usize = 100_000;
/// Usernames are keyed by this many characters at most (real ones are shorter).
const KEYED_USERNAME_CHARS: usize = 64;

/// Where an attempt comes from: an IPv4 address or an IPv6 /64 (one subscriber usually
/// holds a whole /64), or unknown (one shared key).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct Origin(Option<u128>);

impl Origin {
    fn of(address: Option<IpAddr>) -> Self {
        Self(address.map(|address| match address.to_canonical() {
            IpAddr::V4(v4) => u128::from(v4.to_bits()),
            IpAddr::V6(v6) => v6.to_bits() & !u128::from(u64::MAX) | 1 << 127,
        }))
    }
}

pub struct SignInThrottle {
    per_address: DefaultKeyedRateLimiter<Origin>,
    per_account: DefaultKeyedRateLimiter<(Origin, String)>,
}

impl Default for SignInThrottle {
    fn default() -> Self {
        Self {
            per_address: RateLimiter::keyed(per_minute(PER_ADDRESS_PER_MINUTE)),
            per_account: RateLimiter::keyed(per_minute(PER_ACCOUNT_PER_MINUTE)),
        }
    }
}

fn per_minute(attempts: u32) -> Quota {
    Quota::per_minute(NonZeroU32::new(attempts).expect("a non-zero quota"))
}

impl SignInThrottle {
    /// Counts an attempt; `Err` holds how long to wait when it is one too many.
    pub fn check(&self, address: Option<IpAddr>, username: &str) -> Result<(), Duration> {
        let origin = Origin::of(address);
        let account = (origin, account_key(username));
        if self.per_account.len() >= MAX_TRACKED || self.per_address.len() >= MAX_TRACKED {
            self.prune();
        }
        let known = self.per_address.len() < MAX_TRACKED && self.per_account.len() < MAX_TRACKED;
        if !known {
            // Flooded with new origins or names: refuse rather than grow.
            return Err(Duration::from_secs(60));
        }
        let now = DefaultClock::default().now();
        self.per_address
            .check_key(&origin)
            .and_then(|()| self.per_account.check_key(&account))
            .map_err(|not_until| not_until.wait_time_from(now))
    }

    /// Forgets the keys whose allowance is whole again.
    pub fn prune(&self) {
        self.per_address.retain_recent();
        self.per_account.retain_recent();
        self.per_address.shrink_to_fit();
        self.per_account.shrink_to_fit();
    }

    /// Prunes every `period`, for as long as the process runs.
    pub fn spawn_pruner(self: std::sync::Arc<Self>, period: Duration) {
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(period);
            loop {
                ticks.tick().await;
                self.prune();
            }
        });
    }
}

/// The username as the directory matches it, cut short.
fn account_key(username: &str) -> String {
    username
        .trim()
        .chars()
        .take(KEYED_USERNAME_CHARS)
        .flat_map(char::to_lowercase)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_address_guessing_one_username_does_not_lock_out_another_address() {
        let throttle = SignInThrottle::default();
        let attacker = Some("203.0.113.7".parse().expect("address"));
        let alice = Some("198.51.100.1".parse().expect("address"));
        let refused = (0..8)
            .filter(|_| throttle.check(attacker, "ALICE ").is_err())
            .count();
        assert_eq!(refused, 3);
        assert_eq!(throttle.check(alice, "alice"), Ok(()));
    }

    #[test]
    fn one_address_trying_many_usernames_is_limited() {
        let throttle = SignInThrottle::default();
        let attacker = Some("203.0.113.7".parse().expect("address"));
        let refused = (0..40)
            .filter(|n| throttle.check(attacker, &format!("user{n}")).is_err())
            .count();
        assert_eq!(refused, 10);
    }

    #[test]
    fn an_ipv6_subscriber_is_one_origin_and_mapped_ipv4_is_ipv4() {
        let a: IpAddr = "2001:db8:1:2::1".parse().expect("address");
        let b: IpAddr = "2001:db8:1:2:ffff::9".parse().expect("address");
        let other: IpAddr = "2001:db8:1:3::1".parse().expect("address");
        assert_eq!(Origin::of(Some(a)), Origin::of(Some(b)));
        assert_ne!(Origin::of(Some(a)), Origin::of(Some(other)));
        let mapped: IpAddr = "::ffff:192.0.2.1".parse().expect("address");
        let v4: IpAddr = "192.0.2.1".parse().expect("address");
        assert_eq!(Origin::of(Some(mapped)), Origin::of(Some(v4)));
    }

    #[test]
    fn long_usernames_are_keyed_by_their_start() {
        let long = "a".repeat(64 * 1024);
        assert_eq!(account_key(&long).len(), KEYED_USERNAME_CHARS);
        assert_eq!(account_key("  Alice "), "alice");
    }

    #[test]
    fn past_the_cap_of_tracked_origins_attempts_are_refused_not_tracked() {
        let throttle = SignInThrottle::default();
        for n in 0..MAX_TRACKED as u32 {
            let address = IpAddr::from(n.to_be_bytes());
            assert_eq!(throttle.check(Some(address), "x"), Ok(()));
        }
        let newcomer = Some(IpAddr::from([255, 255, 255, 255]));
        assert!(throttle.check(newcomer, "x").is_err());
        assert_eq!(throttle.per_address.len(), MAX_TRACKED);
    }
}
