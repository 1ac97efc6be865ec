//! Who is calling: signing in and out (passwords in `passwords`, the rate limit in
//! `throttle`), session tokens (cookie for browsers, bearer for API clients).

use crate::db::{self, directory, sessions};
use crate::error::ApiError;
use crate::passwords::verify_password;
use crate::state::AppState;
use anyhow::Context;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use axum_extra::extract::cookie::{Cookie, SameSite};
use messaging_core::wire::CurrentUser;
use messaging_core::{ProblemCode, micros};
use sha2::{Digest, Sha256};
use std::net::IpAddr;
use time::Duration;

pub const SESSION_COOKIE: &str = "session";
const SESSION_LIFETIME: Duration = Duration::days(30);

/// The stored form of a session token, made on every signed-in request: hex through a
/// table into a buffer (`hex::encode` pushes char by char, most of this function's time).
fn hash_token(token: &str) -> String {
    let mut hex = [0u8; 64];
    hex::encode_to_slice(Sha256::digest(token.as_bytes()), &mut hex)
        .expect("a SHA-256 digest is 32 bytes, 64 in hex");
    String::from_utf8_lossy(&hex).into_owned()
}

pub struct SignedIn {
    pub token: String,
    pub user: CurrentUser,
}

/// Checks the credentials and opens a session.
pub async fn sign_in(
    state: &AppState,
    address: Option<IpAddr>,
    username: &str,
    password: &str,
) -> Result<SignedIn, ApiError> {
    let attempt = state
        .sign_in_throttle
        .check(address, username)
        .map_err(|wait| {
            ApiError::from(
                messaging_core::Problem::new(
                    ProblemCode::RateLimited,
                    "Too many failed sign-ins; wait a little.",
                )
                .with_retry_after(wait.as_secs().max(1)),
            )
        })?;
    let credentials = directory::credentials(state.messaging.db.pool(), username).await?;
    let (user_id, hash) = credentials.map(|c| (c.user_id, c.password_hash)).unzip();
    let valid = verify_password(&state.password_checks, hash, password.to_owned()).await?;
    let Some(user_id) = user_id.filter(|_| valid) else {
        state.sign_in_throttle.failed(attempt);
        return Err(ApiError::new(
            ProblemCode::InvalidCredentials,
            "The username or password is wrong.",
        ));
    };
    state.sign_in_throttle.succeeded(&attempt);

    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
    let token = hex::encode(bytes);
    let now = db::now();
    // Through the one write path: on SQLite, the group commit's writer.
    let mut tx = state.messaging.db.begin_write().await?;
    sessions::insert(
        &mut *tx,
        &hash_token(&token),
        user_id,
        micros::from_time(now),
        micros::from_time(now + SESSION_LIFETIME),
    )
    .await?;
    db::commit(tx).await?;
    let user = directory::user(state.messaging.db.pool(), user_id)
        .await?
        .context("Signed-in user vanished")?;
    tracing::info!(user.id = %user.id, "signed in");
    Ok(SignedIn { token, user })
}

pub async fn sign_out(state: &AppState, token: &str) -> Result<(), ApiError> {
    let token_hash = hash_token(token);
    let mut tx = state.messaging.db.begin_write().await?;
    sessions::delete(&mut *tx, &token_hash).await?;
    db::commit(tx).await?;
    state.messaging.caches.forget_session(&token_hash);
    state
        .messaging
        .hub
        .end_session(&state.messaging.db, &token_hash)
        .await?;
    Ok(())
}

pub fn session_cookie(token: String, secure: bool) -> Cookie<'static> {
    Cookie::build((SESSION_COOKIE, token))
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(secure)
        .path("/")
        .max_age(SESSION_LIFETIME)
        .build()
}

pub fn removal_cookie(secure: bool) -> Cookie<'static> {
    let mut cookie = session_cookie(String::new(), secure);
    cookie.make_removal();
    cookie
}

/// The caller's token, from `Authorization: Bearer` or the session cookie.
pub fn token_from(headers: &HeaderMap) -> Option<String> {
    if let Some(value) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        return value.strip_prefix("Bearer ").map(|t| t.trim().to_owned());
    }
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| Cookie::parse(c.trim().to_owned()).ok())
        .find(|c| c.name() == SESSION_COOKIE)
        .map(|c| c.value().to_owned())
}

/// The signed-in user; 401 otherwise.
pub struct Authenticated {
    pub user: CurrentUser,
    pub token: String,
}

impl Authenticated {
    /// The session's name in the store and in `SessionEnded`.
    pub fn token_hash(&self) -> String {
        hash_token(&self.token)
    }
}

impl FromRequestParts<AppState> for Authenticated {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = token_from(&parts.headers)
            .filter(|t| !t.is_empty())
            .ok_or_else(ApiError::unauthenticated)?;
        let user = user_of_token(state, &token)
            .await?
            .ok_or_else(ApiError::unauthenticated)?;
        Ok(Self { user, token })
    }
}

/// The user a session token belongs to, if it is live.
pub async fn user_of_token(state: &AppState, token: &str) -> Result<Option<CurrentUser>, ApiError> {
    Ok(state
        .messaging
        .caches
        .session_user(&state.messaging.db, &hash_token(token))
        .await?)
}

#[cfg(test)]
mod tests {
    use super::hash_token;

    /// Sessions stored by an earlier build must still be found: the same lowercase hex
    /// of SHA-256 (the FIPS 180-2 example).
    #[test]
    fn a_token_hashes_to_the_hex_of_its_sha256() {
        assert_eq!(
            hash_token("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
