use super::problems::{SessionProblems, SignInProblems};
use crate::auth::{self, Authenticated};
use crate::error::ApiError;
use crate::extract::{ApiJson, ClientAddress};
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum_extra::extract::CookieJar;
use messaging_core::wire::{CurrentUser, SessionResponse, SignInRequest};

/// `POST /api/session`: signs in; sets the session cookie and returns a bearer token.
#[utoipa::path(
    post, path = "/api/session", tag = "session",
    request_body = SignInRequest,
    responses(
        (status = 200, description = "Signed in; also sets the `session` cookie (HttpOnly, SameSite=Lax)", body = SessionResponse),
        SignInProblems
    )
)]
pub async fn sign_in(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    jar: CookieJar,
    ApiJson(request): ApiJson<SignInRequest>,
) -> Result<impl IntoResponse, ApiError> {
    let signed_in = auth::sign_in(&state, address, &request.username, &request.password).await?;
    let jar = jar.add(auth::session_cookie(
        signed_in.token.clone(),
        state.config.production,
    ));
    Ok((
        jar,
        Json(SessionResponse {
            token: signed_in.token,
            user: signed_in.user,
        }),
    ))
}

/// `DELETE /api/session`: signs out this session.
#[utoipa::path(
    delete, path = "/api/session", tag = "session",
    responses((status = 204, description = "Signed out"), SessionProblems),
    security(("bearer" = []), ("cookie" = []))
)]
pub async fn sign_out(
    State(state): State<AppState>,
    caller: Authenticated,
    jar: CookieJar,
) -> Result<impl IntoResponse, ApiError> {
    auth::sign_out(&state, &caller.token).await?;
    Ok((
        jar.add(auth::removal_cookie(state.config.production)),
        StatusCode::NO_CONTENT,
    ))
}

/// `GET /api/session`: who is signed in.
#[utoipa::path(
    get, path = "/api/session", tag = "session",
    responses((status = 200, body = CurrentUser), SessionProblems),
    security(("bearer" = []), ("cookie" = []))
)]
pub async fn current_user(caller: Authenticated) -> Json<CurrentUser> {
    Json(caller.user)
}
