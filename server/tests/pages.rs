//! Router tests without a socket: pages are rendered on the server, health and metrics
//! answer, and unknown API paths get problem bodies.

use axum::body::Body;
use http::{Request, StatusCode};
use http_body_util::BodyExt;
use server::config::Config;
use server::startup::{AppState, router};
use tower::ServiceExt;

/// The router on a fresh SQLite file, without a socket.
async fn get(path: &str) -> (StatusCode, String) {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut config = Config::from_env().expect("default config");
    config.database_url = format!("sqlite://{}/pages.db?mode=rwc", dir.path().display());
    config.seed_demo_data = false;
    let addr = config.site_addr;
    let app = router(AppState::new(config, addr).await.expect("state"));
    let response = app
        .oneshot(Request::get(path).body(Body::empty()).expect("request"))
        .await
        .expect("response");
    let status = response.status();
    let body = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

#[tokio::test]
async fn health_check_answers_ok_once_the_store_is_migrated() {
    assert_eq!(get("/healthz").await, (StatusCode::OK, "ok".to_owned()));
}

#[tokio::test]
async fn home_page_is_rendered_on_the_server_with_its_hydration_scripts() {
    let (status, html) = get("/").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("<h1>Messages</h1>"), "{html}");
    assert!(
        html.contains("/pkg/messaging.js"),
        "hydration script missing: {html}"
    );
    assert!(
        html.contains("/pkg/messaging.css"),
        "stylesheet missing: {html}"
    );
}

#[tokio::test]
async fn unknown_pages_are_404() {
    let (status, html) = get("/no/such/page").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(html.contains("Page not found"), "{html}");
}

#[tokio::test]
async fn metrics_are_prometheus_text() {
    let (status, _) = get("/api/agencies").await;
    assert_eq!(status, StatusCode::OK);
    let (status, text) = get("/metrics").await;
    assert_eq!(status, StatusCode::OK);
    assert!(text.contains("http_requests_total"), "{text}");
}

#[tokio::test]
async fn the_openapi_document_describes_every_api_route() {
    let (status, text) = get("/api/openapi.json").await;
    assert_eq!(status, StatusCode::OK);
    let doc: serde_json::Value = serde_json::from_str(&text).expect("JSON");
    assert!(doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.")));
    let paths: Vec<&str> = doc["paths"]
        .as_object()
        .expect("paths")
        .keys()
        .map(String::as_str)
        .collect();
    for path in [
        "/api/session",
        "/api/agencies",
        "/api/agencies/{slug}",
        "/api/messages/conversations",
        "/api/messages/conversations/{id}",
        "/api/messages/conversations/{id}/messages",
        "/api/messages/conversations/{id}/stream",
        "/api/chat",
    ] {
        assert!(paths.contains(&path), "{path} missing from {paths:?}");
    }
    let create = &doc["paths"]["/api/messages/conversations"]["post"];
    for status in ["200", "201", "400", "409", "422"] {
        assert!(
            create["responses"][status].is_object(),
            "create lacks {status}"
        );
    }
    assert!(doc["components"]["schemas"]["Problem"].is_object());
}

#[tokio::test]
async fn unknown_api_paths_are_problem_json_404s() {
    let (status, text) = get("/api/no/such/thing").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let problem: serde_json::Value = serde_json::from_str(&text).expect("problem JSON");
    assert_eq!(problem["code"], "not_found");
}
