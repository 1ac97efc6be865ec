//! No path can panic a request or make a 5xx. In a test binary of its own: Leptos spawns
//! its rendering tasks through an executor set once per process, on the first tokio
//! runtime that renders a page; beside the other router tests (a runtime each, ended when
//! the test ends), this long test's renders could land on a runtime that is gone and
//! wait for ever.

use axum::body::Body;
use http::{Request, StatusCode, header};
use server::config::Config;
use server::startup::router;
use server::state::AppState;
use tower::ServiceExt;

/// Every control character, percent-encoded, in each page and API path, signed out and
/// in: an answer below 500 each time (a panic in a handler fails the test outright).
#[tokio::test]
async fn no_control_character_in_a_path_makes_a_5xx_or_a_panic() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut config = Config::from_env().expect("default config");
    config.database_url = format!("sqlite://{}/pages.db?mode=rwc", dir.path().display());
    let addr = config.site_addr;
    let app = router(AppState::new(config, addr).await.expect("state"));
    let sign_in = Request::post("/api/session")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(
            r#"{"username":"alice","password":"demo-password"}"#,
        ))
        .expect("request");
    let signed_in = app.clone().oneshot(sign_in).await.expect("response");
    assert_eq!(signed_in.status(), StatusCode::OK);
    let cookie = signed_in
        .headers()
        .get(header::SET_COOKIE)
        .and_then(|c| c.to_str().ok())
        .and_then(|c| c.split(';').next())
        .expect("a session cookie")
        .to_owned();

    let controls = (0u8..0x20).chain([0x7f]);
    for (code, session) in controls.flat_map(|c| [(c, None), (c, Some(cookie.as_str()))]) {
        let c = format!("%{code:02X}");
        for path in [
            format!("/conversations/{c}"),
            format!("/conversations/{c}x"),
            format!("/agencies/{c}"),
            format!("/agencies/{c}/message"),
            format!("/sign-in?next=/{c}"),
            format!("/api/agencies/{c}"),
            format!("/api/messages/conversations/{c}"),
            format!("/api/messages/conversations/{c}/messages"),
            format!("/api/messages/conversations?cursor={c}"),
        ] {
            let mut request = Request::get(path.as_str());
            if let Some(cookie) = session {
                request = request.header(header::COOKIE, cookie);
            }
            let response = app
                .clone()
                .oneshot(request.body(Body::empty()).expect("request"))
                .await
                .expect("response");
            assert!(
                response.status().as_u16() < 500,
                "{path} (signed in: {}): {}",
                session.is_some(),
                response.status()
            );
        }
    }
}
