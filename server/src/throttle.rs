//! How often sign-in may fail. Limits are per client address and per (username,
//! address), never per username alone: guessing alice's password from one address must
//! not lock alice out everywhere (OWASP Authentication Cheat Sheet, "Account Lockout").
//! Only failures count, so many people behind one address (an office, a carrier's NAT)
//! who know their passwords are never held back. An attempt takes its place in the
//! count before its password is checked and gives it back if the password was right (or
//! never checked): guesses sent at once cannot all pass the limit before the first of
//! them is counted. The state is bounded: short keys, a minute's life each, and a cap on
//! their number (the least used go first).

use moka::sync::Cache;
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// Failures from one address in a minute, whatever the usernames.
const PER_ADDRESS: u32 = 30;
/// Failures for one username from one address in a minute.
const PER_USERNAME_AT_ADDRESS: u32 = 5;
/// How long failures count, from the first.
const WINDOW: Duration = Duration::from_secs(60);
/// Keys tracked at most in each table (about 100 bytes each).
const MAX_TRACKED: u64 = 100_000;
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

/// The failures of one key since its window began, with the attempts being checked.
struct Failures {
    since: Instant,
    count: AtomicU32,
}

impl Failures {
    fn fresh() -> Arc<Self> {
        Arc::new(Self {
            since: Instant::now(),
            count: AtomicU32::new(0),
        })
    }

    /// Counts one more, unless `limit` are counted: then how long until the window ends.
    fn take_place(&self, limit: u32) -> Result<(), Duration> {
        self.count
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |count| {
                (count < limit).then_some(count + 1)
            })
            .map(drop)
            .map_err(|_| WINDOW.saturating_sub(self.since.elapsed()))
    }

    fn give_back_place(&self) {
        self.count.fetch_sub(1, Ordering::AcqRel);
    }
}

pub struct SignInThrottle {
    per_address: Cache<Origin, Arc<Failures>>,
    per_username_at_address: Cache<(Origin, String), Arc<Failures>>,
}

impl Default for SignInThrottle {
    fn default() -> Self {
        Self {
            per_address: table(),
            per_username_at_address: table(),
        }
    }
}

fn table<K: std::hash::Hash + Eq + Send + Sync + 'static>() -> Cache<K, Arc<Failures>> {
    Cache::builder()
        .max_capacity(MAX_TRACKED)
        .time_to_live(WINDOW)
        .build()
}

/// An attempt being checked: it holds a place in its address's count and its (username, address)'s,
/// kept if it fails ([`SignInThrottle::failed`]), given back when it is dropped otherwise.
pub struct Attempt {
    username_at_address: (Origin, String),
    by_address: Arc<Failures>,
    by_username_at_address: Arc<Failures>,
    failed: bool,
}

impl Drop for Attempt {
    fn drop(&mut self) {
        if !self.failed {
            self.by_address.give_back_place();
            self.by_username_at_address.give_back_place();
        }
    }
}

impl SignInThrottle {
    /// The attempt, counted until it proves right, or how long to wait when its address
    /// or its (username, address) has failed too often.
    pub fn check(&self, address: Option<IpAddr>, username: &str) -> Result<Attempt, Duration> {
        let origin = Origin::of(address);
        let username_at_address = (origin, username_key(username));
        let by_address = self.per_address.get_with(origin, Failures::fresh);
        let by_username_at_address = self
            .per_username_at_address
            .get_with(username_at_address.clone(), Failures::fresh);
        let address_full = by_address.take_place(PER_ADDRESS).err();
        let username_full = by_username_at_address
            .take_place(PER_USERNAME_AT_ADDRESS)
            .err();
        let Some(wait) = address_full.max(username_full) else {
            return Ok(Attempt {
                username_at_address,
                by_address,
                by_username_at_address,
                failed: false,
            });
        };
        if address_full.is_none() {
            by_address.give_back_place();
        }
        if username_full.is_none() {
            by_username_at_address.give_back_place();
        }
        Err(wait)
    }

    /// A wrong password (or username): the attempt's places stay counted.
    pub fn failed(&self, mut attempt: Attempt) {
        attempt.failed = true;
    }

    /// The right password: that username's failures from that address are forgotten.
    pub fn succeeded(&self, attempt: &Attempt) {
        self.per_username_at_address
            .invalidate(&attempt.username_at_address);
    }
}

/// The username as the directory matches it, cut short.
fn username_key(username: &str) -> String {
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

    fn fail(throttle: &SignInThrottle, address: Option<IpAddr>, username: &str) -> bool {
        match throttle.check(address, username) {
            Ok(attempt) => {
                throttle.failed(attempt);
                true
            }
            Err(_) => false,
        }
    }

    fn address(text: &str) -> Option<IpAddr> {
        Some(text.parse().expect("an address"))
    }

    #[test]
    fn guessing_from_one_address_does_not_lock_the_user_out_elsewhere() {
        let throttle = SignInThrottle::default();
        let attacker = address("203.0.113.7");
        let tried = (0..8)
            .filter(|_| fail(&throttle, attacker, "ALICE "))
            .count();
        assert_eq!(tried, 5);
        let wait = throttle.check(attacker, "alice").err().expect("refused");
        assert!(wait > Duration::from_secs(55) && wait <= WINDOW, "{wait:?}");
        assert!(throttle.check(address("198.51.100.1"), "alice").is_ok());
    }

    #[test]
    fn one_address_failing_for_many_usernames_is_limited() {
        let throttle = SignInThrottle::default();
        let attacker = address("203.0.113.7");
        let tried = (0..40)
            .filter(|n| fail(&throttle, attacker, &format!("user{n}")))
            .count();
        assert_eq!(tried, 30);
    }

    #[test]
    fn success_forgets_the_usernames_failures_at_that_address_and_is_never_counted() {
        let throttle = SignInThrottle::default();
        let office = address("192.0.2.1");
        for _ in 0..4 {
            fail(&throttle, office, "alice");
        }
        let attempt = throttle.check(office, "alice").expect("allowed");
        throttle.succeeded(&attempt);
        for _ in 0..4 {
            assert!(fail(&throttle, office, "alice"));
        }
        // A hundred people behind one address who know their passwords.
        for n in 0..100 {
            let attempt = throttle
                .check(office, &format!("user{n}"))
                .expect("allowed");
            throttle.succeeded(&attempt);
        }
    }

    #[test]
    fn an_ipv6_subscriber_is_one_origin_and_mapped_ipv4_is_ipv4() {
        assert_eq!(
            Origin::of(address("2001:db8:1:2::1")),
            Origin::of(address("2001:db8:1:2:ffff::9"))
        );
        assert_ne!(
            Origin::of(address("2001:db8:1:2::1")),
            Origin::of(address("2001:db8:1:3::1"))
        );
        assert_eq!(
            Origin::of(address("::ffff:192.0.2.1")),
            Origin::of(address("192.0.2.1"))
        );
    }

    #[test]
    fn guesses_checked_at_once_take_the_places_one_by_one() {
        let throttle = SignInThrottle::default();
        let attacker = address("203.0.113.7");
        let being_checked: Vec<Attempt> = (0..12)
            .filter_map(|_| throttle.check(attacker, "alice").ok())
            .collect();
        assert_eq!(being_checked.len(), PER_USERNAME_AT_ADDRESS as usize);
        for attempt in being_checked {
            throttle.failed(attempt);
        }
        assert!(throttle.check(attacker, "alice").is_err());
    }

    #[test]
    fn an_attempt_never_checked_gives_its_place_back() {
        let throttle = SignInThrottle::default();
        let busy = address("192.0.2.1");
        for _ in 0..(PER_USERNAME_AT_ADDRESS * 2) {
            // The password checks' queue was full, or the client left: no answer.
            drop(throttle.check(busy, "alice").expect("allowed"));
        }
        assert!(throttle.check(busy, "alice").is_ok());
    }

    #[test]
    fn long_usernames_are_keyed_by_their_start() {
        let long = "a".repeat(64 * 1024);
        assert_eq!(username_key(&long).len(), KEYED_USERNAME_CHARS);
        assert_eq!(username_key("  Alice "), "alice");
    }

    #[test]
    fn the_tables_hold_at_most_their_cap() {
        let throttle = SignInThrottle::default();
        for n in 0..(MAX_TRACKED as u32 + 20_000) {
            fail(&throttle, Some(IpAddr::from(n.to_be_bytes())), "x");
        }
        throttle.per_address.run_pending_tasks();
        throttle.per_username_at_address.run_pending_tasks();
        assert!(throttle.per_address.entry_count() <= MAX_TRACKED);
        assert!(throttle.per_username_at_address.entry_count() <= MAX_TRACKED);
    }
}
