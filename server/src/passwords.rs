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
use messaging_core::{Problem, ProblemCode};
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
        let in_queue = Queued::join(self).ok_or_else(|| {
            ApiError::from(
                Problem::new(
                    ProblemCode::Unavailable,
                    "Too many sign-ins at once; try again in a moment.",
                )
                .with_retry_after(1),
            )
        })?;
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
    let started = Instant::now();
    let known = hash.is_some();
    let hash = hash.unwrap_or_else(|| DUMMY_HASH.clone());
    let matches = tokio::task::spawn_blocking(move || {
        let parsed =
            PasswordHash::new(&hash).map_err(|e| anyhow::anyhow!("stored hash unreadable: {e}"))?;
        anyhow::Ok(
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok(),
        )
    })
    .await
    .context("Password verification task failed")??;
    rest_after(core, started.elapsed());
    Ok(known && matches)
}

/// Keeps the check's core for as long as the check took, without making its sign-in
/// wait: the next check on that core starts no sooner.
fn rest_after(core: OwnedSemaphorePermit, took: std::time::Duration) {
    tokio::spawn(async move {
        tokio::time::sleep(took).await;
        drop(core);
    });
}

static DUMMY_HASH: LazyLock<String> = LazyLock::new(|| {
    let salt = SaltString::encode_b64(b"timing-equaliser").expect("a valid static salt");
    Argon2::default()
        .hash_password(b"not a real password", &salt)
        .map(|h| h.to_string())
        .unwrap_or_default()
});
