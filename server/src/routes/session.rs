use crate::auth::{self, Authenticated};
use crate::error::ApiError;
use crate::extract::ApiJson;
use crate::startup::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum_extra::extract::CookieJar;
use messaging_core::Problem;
use messaging_core::wire::{CurrentUser, SessionResponse, SignInRequest};

/// `POST /api/session`: signs in; sets the session cookie and returns a bearer token.
#[utoipa::path(
    post, path = "/api/session", tag = "session",
    request_body = SignInRequest,
    responses(
        (status = 200, description = "Signed in; also sets the `session` cookie (HttpOnly, SameSite=Lax)", body = SessionResponse),
        (status = 400, description = "Malformed body", body = Problem, content_type = "application/problem+json"), (status = 401, description = "Wrong username or password", body = Problem, content_type = "application/problem+json"), (status = 413, description = "Body too large", body = Problem, content_type = "application/problem+json"), (status = 415, description = "Not JSON", body = Problem, content_type = "application/problem+json"), (status = 422, description = "Missing or mistyped fields", body = Problem, content_type = "application/problem+json"), (status = 429, description = "Too many attempts; see Retry-After", body = Problem, content_type = "application/problem+json")
    )
)]
pub async fn sign_in(
    State(state): State<AppState>,
    jar: CookieJar,
    ApiJson(request): ApiJson<SignInRequest>,
) -> Result<impl IntoResponse, ApiError> {
    let signed_in = auth::sign_in(&state, &request.username, &request.password).await?;
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
    responses((status = 204, description = "Signed out"), (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json")),
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
    responses((status = 200, body = CurrentUser), (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = []), ("cookie" = []))
)]
pub async fn current_user(caller: Authenticated) -> Json<CurrentUser> {
    Json(caller.user)
}
