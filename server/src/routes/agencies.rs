use super::problems::LookupProblems;
use crate::db::directory;
use crate::error::ApiError;
use crate::extract::ApiPath;
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use messaging_core::wire::Agency;

/// `GET /api/agencies`: every agency a user can contact.
#[utoipa::path(get, path = "/api/agencies", tag = "agencies", responses((status = 200, body = Vec<Agency>)))]
pub async fn list_agencies(State(state): State<AppState>) -> Result<Json<Vec<Agency>>, ApiError> {
    Ok(Json(directory::agencies(state.messaging.db.pool()).await?))
}

/// `GET /api/agencies/{slug}`.
#[utoipa::path(
    get, path = "/api/agencies/{slug}", tag = "agencies",
    params(("slug" = String, Path)),
    responses((status = 200, body = Agency), LookupProblems)
)]
pub async fn get_agency(
    State(state): State<AppState>,
    ApiPath(slug): ApiPath<String>,
) -> Result<Json<Agency>, ApiError> {
    directory::agency_by_slug(state.messaging.db.pool(), &slug)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found("agency"))
}
