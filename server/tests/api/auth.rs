use crate::helpers::{TestApp, inquiry, problem};
use crate::on_both_stores;
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn sign_in(app: &TestApp, username: &str, password: &str) -> reqwest::Response {
    app.client
        .post(app.url("/api/session"))
        .json(&json!({ "username": username, "password": password }))
        .send()
        .await
        .expect("request")
}

async fn sign_in_sets_an_http_only_same_site_cookie_and_returns_a_token(app: TestApp) {
    let response = sign_in(&app, "alice", "demo-password").await;
    assert_eq!(response.status(), StatusCode::OK);
    let cookie = response.headers()["set-cookie"]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert!(cookie.starts_with("session="), "{cookie}");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["user"]["username"], "alice");
    let token = body["token"].as_str().expect("token");
    let me: Value = app
        .get(token, "/api/session")
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(me["display_name"], "Alice Martin");
    // Passwords are stored as argon2 hashes, never as given.
    assert_eq!(
        app.count("SELECT COUNT(*) FROM users WHERE password_hash LIKE '$argon2id$%'")
            .await,
        4
    );
}

async fn wrong_credentials_are_401_alike_for_unknown_users(app: TestApp) {
    for (username, password) in [("alice", "wrong"), ("nobody", "demo-password")] {
        let (status, body) = problem(sign_in(&app, username, password).await).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (StatusCode::UNAUTHORIZED, Some("invalid_credentials"))
        );
        assert_eq!(body["detail"], "The username or password is wrong.");
    }
}

async fn failed_sign_ins_are_limited_per_username_at_an_address(app: TestApp) {
    for _ in 0..5 {
        assert_eq!(
            sign_in(&app, "bob", "guess").await.status(),
            StatusCode::UNAUTHORIZED
        );
    }
    let limited = sign_in(&app, "bob", "demo-password").await;
    assert!(limited.headers().get("retry-after").is_some());
    let (status, body) = problem(limited).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::TOO_MANY_REQUESTS, Some("rate_limited"))
    );
    // Another username from the same address is not affected.
    assert_eq!(
        sign_in(&app, "alice", "demo-password").await.status(),
        StatusCode::OK
    );
}

async fn requests_without_a_valid_session_are_401(app: TestApp) {
    let (status, body) = problem(
        app.client
            .get(app.url("/api/messages/conversations"))
            .send()
            .await
            .expect("req"),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("unauthenticated"))
    );
    let (status, _) = problem(app.get("not-a-token", "/api/messages/conversations").await).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

async fn signing_out_ends_the_session(app: TestApp) {
    let token = app.sign_in("alice").await;
    app.sign_out(&token).await;
    assert_eq!(
        app.get(&token, "/api/session").await.status(),
        StatusCode::UNAUTHORIZED
    );
}

async fn cross_site_cookie_posts_are_refused(app: TestApp) {
    let token = app.sign_in("alice").await;
    let agency = app.agency_id("northwind").await;
    let forged = |site: Option<&str>, origin: Option<&str>| {
        let mut request = app
            .client
            .post(app.url("/api/messages/conversations"))
            .header("cookie", format!("session={token}"))
            .header("Idempotency-Key", uuid::Uuid::new_v4().to_string())
            .json(&inquiry(&agency, "Hi", "m-1"));
        if let Some(site) = site {
            request = request.header("sec-fetch-site", site);
        }
        if let Some(origin) = origin {
            request = request.header("origin", origin);
        }
        request.send()
    };
    let (status, body) = problem(forged(Some("cross-site"), None).await.expect("req")).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("cross_site_request"))
    );
    let (status, _) = problem(
        forged(None, Some("https://evil.example"))
            .await
            .expect("req"),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(app.count("SELECT COUNT(*) FROM conversations").await, 0);

    let same_site = forged(Some("same-origin"), Some(&app.address))
        .await
        .expect("req");
    assert_eq!(same_site.status(), StatusCode::CREATED);
}

async fn control_characters_in_names_are_a_4xx_on_every_store(app: TestApp) {
    let (status, body) = problem(sign_in(&app, "ali\u{0}ce", "demo-password").await).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_credentials"))
    );
    let token = app.sign_in("alice").await;
    let (status, _) = problem(app.get(&token, "/api/agencies/north%00wind").await).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

on_both_stores!(
    control_characters_in_names_are_a_4xx_on_every_store,
    sign_in_sets_an_http_only_same_site_cookie_and_returns_a_token,
    wrong_credentials_are_401_alike_for_unknown_users,
    failed_sign_ins_are_limited_per_username_at_an_address,
    requests_without_a_valid_session_are_401,
    signing_out_ends_the_session,
    cross_site_cookie_posts_are_refused,
);
