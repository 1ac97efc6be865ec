//! Password hashing (argon2, with its default parameters), off the async threads: it is
//! deliberately slow, a core and 19 MiB for each check. Checks run on at most half the
//! cores, each core kept as long again after its check (so at most a quarter of the
//! machine's time goes to them), behind a short queue; past it a sign-in is told to come
//! back (503). A flood of sign-ins cannot take every blocking thread (static files are
//! read on them too), the memory, or the CPU the other routes need (the hostile soak keeps
//! its storm's p99 within 2x beside one), nor make everyone's sign-in wait for ever.

use crate::error::ApiError;
use anyhow::Context;
use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock};
use std::time::Instant;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Checks waiting, per check running: a few tens of milliseconds each.
const QUEUED_PER_CORE: usize = 8;

/// The cores password checks may take, and the queue for them.
pub struct PasswordChecks {
    cores: Arc<Semaphore>,
    queued: AtomicUsize,
    max_queued: usize,
}

impl Default for PasswordChecks {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
        let checkers = (cores / 2).max(1);
        Self {
            cores: Arc::new(Semaphore::new(checkers)),
            queued: AtomicUsize::new(0),
            max_queued: checkers * QUEUED_PER_CORE,
        }
    }
}

impl PasswordChecks {
    /// A core for one check, or the 503 when the queue is full.
    async fn admit(&self) -> Result<OwnedSemaphorePermit, ApiError> {
        if let Ok(permit) = Arc::clone(&self.cores).try_acquire_owned() {
            return Ok(permit);
        }
        let in_queue = Queued::join(self)
            .ok_or_else(|| ApiError::busy("Too many sign-ins at once; try again in a moment."))?;
        let permit = Arc::clone(&self.cores)
            .acquire_owned()
            .await
            .context("the check semaphore closed")?;
        drop(in_queue);
        Ok(permit)
    }
}

/// A place in the queue, given back however the wait ends (a client that leaves too).
struct Queued<'a>(&'a AtomicUsize);

impl<'a> Queued<'a> {
    fn join(checks: &'a PasswordChecks) -> Option<Self> {
        checks
            .queued
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |queued| {
                (queued < checks.max_queued).then_some(queued + 1)
            })
            .ok()
            .map(|_| Self(&checks.queued))
    }
}

impl Drop for Queued<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

pub async fn hash_password(password: String) -> anyhow::Result<String> {
    tokio::task::spawn_blocking(move || {
        let mut salt = [0u8; 16];
        getrandom::fill(&mut salt).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
        let salt = SaltString::encode_b64(&salt).map_err(|e| anyhow::anyhow!("salt: {e}"))?;
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|hash| hash.to_string())
            .map_err(|e| anyhow::anyhow!("hashing failed: {e}"))
    })
    .await
    .context("Password hashing task failed")?
}

/// Whether `password` matches `hash`; with `None` (an unknown user) it checks a dummy
/// hash, so a wrong name takes as long as a wrong password, and answers `false`.
pub async fn verify_password(
    checks: &PasswordChecks,
    hash: Option<String>,
    password: String,
) -> Result<bool, ApiError> {
    let core = checks.admit().await?;
    let known = hash.is_some();
    let runtime = tokio::runtime::Handle::current();
    let matches = tokio::task::spawn_blocking(move || {
        // The check holds its core, not the request: a blocking task cannot be stopped,
        // so a client that leaves mid-check must not free the core while argon2 runs on.
        let started = Instant::now();
        let hash = hash.unwrap_or_else(|| DUMMY_HASH.clone());
        let matches = PasswordHash::new(&hash)
            .map(|parsed| {
                Argon2::default()
                    .verify_password(password.as_bytes(), &parsed)
                    .is_ok()
            })
            .map_err(|e| anyhow::anyhow!("stored hash unreadable: {e}"));
        runtime.spawn(rest_after(core, started.elapsed()));
        matches
    })
    .await
    .context("Password verification task failed")??;
    Ok(known && matches)
}

/// Keeps the check's core for as long as the check took, without making its sign-in
/// wait: the next check on that core starts no sooner.
async fn rest_after(core: OwnedSemaphorePermit, took: std::time::Duration) {
    tokio::time::sleep(took).await;
    drop(core);
}

static DUMMY_HASH: LazyLock<String> = LazyLock::new(|| {
    let salt = SaltString::encode_b64(b"timing-equaliser").expect("a valid static salt");
    Argon2::default()
        .hash_password(b"not a real password", &salt)
        .map(|h| h.to_string())
        .unwrap_or_default()
});

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn one_core() -> PasswordChecks {
        PasswordChecks {
            cores: Arc::new(Semaphore::new(1)),
            queued: AtomicUsize::new(0),
            max_queued: QUEUED_PER_CORE,
        }
    }

    #[tokio::test]
    async fn a_sign_in_abandoned_mid_check_keeps_its_core_until_the_check_and_its_rest_end() {
        let checks = one_core();
        let abandoned = tokio::time::timeout(
            Duration::from_millis(1),
            verify_password(&checks, None, "guess".into()),
        )
        .await;
        assert!(abandoned.is_err(), "the check outlasts the client");
        assert_eq!(
            checks.cores.available_permits(),
            0,
            "argon2 still runs on the core the request held"
        );

        // Once the check and its rest are over, the core is free again.
        let freed = async {
            while checks.cores.available_permits() == 0 {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        };
        tokio::time::timeout(Duration::from_secs(30), freed)
            .await
            .expect("the core comes back");
    }

    #[tokio::test]
    async fn a_check_answers_whether_the_password_matches() {
        let checks = one_core();
        let hash = hash_password("right".into()).await.expect("a hash");
        assert!(
            verify_password(&checks, Some(hash.clone()), "right".into())
                .await
                .expect("a check")
        );
        assert!(
            !verify_password(&checks, Some(hash), "wrong".into())
                .await
                .expect("a check")
        );
        assert!(
            !verify_password(&checks, None, "right".into())
                .await
                .expect("an unknown user is checked against the dummy hash")
        );
    }
}
