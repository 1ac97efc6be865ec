//! Every bad input is a clear 4xx problem, never a 5xx.

use crate::helpers::{TestApp, problem};
use crate::on_both_stores;
use reqwest::StatusCode;
use serde_json::json;

async fn post_raw(
    app: &TestApp,
    token: &str,
    path: &str,
    content_type: &str,
    body: String,
) -> reqwest::Response {
    app.client
        .post(app.url(path))
        .bearer_auth(token)
        .header("content-type", content_type)
        .header("Idempotency-Key", uuid::Uuid::new_v4().to_string())
        .body(body)
        .send()
        .await
        .expect("request")
}

async fn malformed_bodies_get_problem_responses(app: TestApp) {
    let token = app.sign_in("alice").await;
    let agency = app.agency_id("northwind").await;
    let conversation = uuid::Uuid::new_v4();
    let json = "application/json";
    let cases: Vec<(&str, &str, String, StatusCode, &str)> = vec![
        ("/api/chat", json, "{not json".into(), StatusCode::BAD_REQUEST, "malformed_body"),
        ("/api/chat", json, "".into(), StatusCode::BAD_REQUEST, "malformed_body"),
        ("/api/chat", json, json!({ "conversation_id": 5, "text": "a", "local_id": "m" }).to_string(), StatusCode::UNPROCESSABLE_ENTITY, "validation_failed"),
        ("/api/chat", json, json!({ "conversation_id": conversation, "text": "a", "local_id": "m", "admin": true }).to_string(), StatusCode::UNPROCESSABLE_ENTITY, "validation_failed"),
        ("/api/chat", json, json!({ "conversation_id": conversation, "text": "a" }).to_string(), StatusCode::UNPROCESSABLE_ENTITY, "validation_failed"),
        ("/api/chat", json, json!({ "conversation_id": conversation, "text": "a", "local_id": "bad id" }).to_string(), StatusCode::UNPROCESSABLE_ENTITY, "validation_failed"),
        ("/api/chat", json, json!({ "conversation_id": conversation, "text": "x".repeat(4001), "local_id": "m" }).to_string(), StatusCode::UNPROCESSABLE_ENTITY, "validation_failed"),
        ("/api/chat", "text/plain", json!({ "conversation_id": conversation, "text": "a", "local_id": "m" }).to_string(), StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type"),
        ("/api/chat", json, format!("{{\"text\":\"{}\"}}", "x".repeat(70_000)), StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
        ("/api/messages/conversations", json, json!({ "context_type": "job", "context_id": agency, "initial_message": { "text": "a", "local_id": "m" } }).to_string(), StatusCode::UNPROCESSABLE_ENTITY, "validation_failed"),
        ("/api/messages/conversations", json, json!({ "context_type": "agency_inquiry", "context_id": "nope", "initial_message": { "text": "a", "local_id": "m" } }).to_string(), StatusCode::UNPROCESSABLE_ENTITY, "validation_failed"),
        ("/api/session", json, json!({ "username": "alice" }).to_string(), StatusCode::UNPROCESSABLE_ENTITY, "validation_failed"),
    ];
    for (path, content_type, body, status, code) in cases {
        let label = format!(
            "{path} {content_type} {}",
            body.chars().take(60).collect::<String>()
        );
        let (got_status, problem) =
            problem(post_raw(&app, &token, path, content_type, body).await).await;
        assert_eq!(
            (got_status, problem["code"].as_str()),
            (status, Some(code)),
            "{label}: {problem}"
        );
        assert_eq!(problem["status"], status.as_u16(), "{label}");
        assert!(
            problem["detail"].as_str().is_some_and(|d| !d.is_empty()),
            "{label}"
        );
    }
    assert_eq!(app.count("SELECT COUNT(*) FROM messages").await, 0);
}

async fn bad_paths_queries_and_methods_get_problem_responses(app: TestApp) {
    let token = app.sign_in("alice").await;
    let cases = [
        (
            "/api/messages/conversations/not-a-uuid",
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            "/api/messages/conversations?cursor=garbage",
            StatusCode::BAD_REQUEST,
            "malformed_body",
        ),
        (
            "/api/messages/conversations?limit=-1",
            StatusCode::BAD_REQUEST,
            "malformed_body",
        ),
        (
            "/api/messages/conversations?context_type=nope",
            StatusCode::BAD_REQUEST,
            "malformed_body",
        ),
        (
            "/api/messages/conversations?surprise=1",
            StatusCode::BAD_REQUEST,
            "malformed_body",
        ),
        (
            "/api/agencies/no-such-agency",
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        ("/api/no/such/endpoint", StatusCode::NOT_FOUND, "not_found"),
    ];
    for (path, status, code) in cases {
        let (got, body) = problem(app.get(&token, path).await).await;
        assert_eq!((got, body["code"].as_str()), (status, Some(code)), "{path}");
    }
    let wrong_method = app
        .client
        .put(app.url("/api/chat"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("req");
    let (status, body) = problem(wrong_method).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::METHOD_NOT_ALLOWED, Some("method_not_allowed"))
    );
}

on_both_stores!(
    malformed_bodies_get_problem_responses,
    bad_paths_queries_and_methods_get_problem_responses
);
