//! Password hashing (argon2, with its default parameters), off the async threads: it is
//! deliberately slow.

use anyhow::Context;
use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use std::sync::LazyLock;

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
pub async fn verify_password(hash: Option<String>, password: String) -> anyhow::Result<bool> {
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
    Ok(known && matches)
}

static DUMMY_HASH: LazyLock<String> = LazyLock::new(|| {
    let salt = SaltString::encode_b64(b"timing-equaliser").expect("a valid static salt");
    Argon2::default()
        .hash_password(b"not a real password", &salt)
        .map(|h| h.to_string())
        .unwrap_or_default()
});
