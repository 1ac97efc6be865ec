//! Router tests without a socket: the pages are rendered on the server.

use axum::body::Body;
use http::{Request, StatusCode};
use http_body_util::BodyExt;
use server::config::Config;
use server::startup::{AppState, router};
use tower::ServiceExt;

fn app() -> axum::Router {
    let config = Config::from_env().expect("default config");
    router(AppState {
        leptos_options: config.leptos_options(config.site_addr),
    })
}

async fn get(path: &str) -> (StatusCode, String) {
    let response = app()
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
async fn health_check_answers_ok() {
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
