//! Each conversation numbers its messages 1, 2, 3, … with no gap, on both stores: racing
//! senders and retried `local_id`s included. Lists are in that order and page by it; the
//! live stream names each message by its number and resumes after the one it is given.

use crate::helpers::{TestApp, inquiry, next_event_with_id};
use crate::on_both_stores;
use futures_util::future::join_all;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::Duration;

/// Alice's inquiry to northwind (message 1); its id.
async fn conversation(app: &TestApp, token: &str) -> String {
    let agency = app.agency_id("northwind").await;
    let created = app
        .created(token, "seq-key", &inquiry(&agency, "Hello!", "m-0"))
        .await;
    assert_eq!(created["message"]["seq"], 1);
    created["conversation"]["id"]
        .as_str()
        .expect("id")
        .to_owned()
}

async fn seqs(app: &TestApp, token: &str, path: &str) -> Vec<u64> {
    let page: Value = app.get(token, path).await.json().await.expect("a page");
    page["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|message| message["seq"].as_u64().expect("seq"))
        .collect()
}

async fn racing_senders_and_retries_get_every_number_once(app: TestApp) {
    let token = app.sign_in("alice").await;
    let id = conversation(&app, &token).await;
    // 30 different messages at once, each sent twice (a retry racing its first attempt).
    let sends = (1..=30).flat_map(|n| {
        let body =
            json!({ "conversation_id": id, "text": format!("n{n}"), "local_id": format!("m-{n}") });
        [body.clone(), body]
    });
    let answers = join_all(sends.map(|body| {
        let (app, token) = (&app, &token);
        async move { app.chat(token, &body).await }
    }))
    .await;
    for answer in answers {
        assert_eq!(answer.status(), StatusCode::ACCEPTED);
    }
    let listed = seqs(
        &app,
        &token,
        &format!("/api/messages/conversations/{id}/messages?limit=200"),
    )
    .await;
    assert_eq!(listed, (1..=31).collect::<Vec<_>>());
    // The next one takes the next number: no retry used one up.
    let next = app
        .chat(
            &token,
            &json!({ "conversation_id": id, "text": "last", "local_id": "m-last" }),
        )
        .await;
    let next: Value = next.json().await.expect("json");
    assert_eq!(next["message"]["seq"], 32);
}

async fn lists_page_by_number(app: TestApp) {
    let token = app.sign_in("alice").await;
    let id = conversation(&app, &token).await;
    for n in 1..=4 {
        let body =
            json!({ "conversation_id": id, "text": format!("n{n}"), "local_id": format!("m-{n}") });
        assert_eq!(app.chat(&token, &body).await.status(), StatusCode::ACCEPTED);
    }
    let path = format!("/api/messages/conversations/{id}/messages");
    let first: Value = app
        .get(&token, &format!("{path}?limit=2"))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(first["next_cursor"], "2");
    assert_eq!(
        seqs(&app, &token, &format!("{path}?cursor=2&limit=2")).await,
        [3, 4]
    );
    // A client names the last message it has to get what follows.
    assert_eq!(seqs(&app, &token, &format!("{path}?cursor=4")).await, [5]);
    let (status, _) =
        crate::helpers::problem(app.get(&token, &format!("{path}?cursor=x")).await).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

async fn the_stream_names_messages_by_number_and_resumes_after_one(app: TestApp) {
    let token = app.sign_in("alice").await;
    let id = conversation(&app, &token).await;
    for n in 1..=3 {
        let body =
            json!({ "conversation_id": id, "text": format!("n{n}"), "local_id": format!("m-{n}") });
        assert_eq!(app.chat(&token, &body).await.status(), StatusCode::ACCEPTED);
    }
    let stream_path = format!("/api/messages/conversations/{id}/stream");
    // Resumed by the app after message 2, and by the browser after 3 (Last-Event-ID wins).
    for (path, last_event_id, first) in [
        (format!("{stream_path}?after=2"), None, 3),
        (format!("{stream_path}?after=1"), Some("3"), 4),
    ] {
        let mut request = app.client.get(app.url(&path)).bearer_auth(&token);
        if let Some(last) = last_event_id {
            request = request.header("Last-Event-ID", last);
        }
        let stream = request.send().await.expect("stream");
        assert_eq!(stream.status(), StatusCode::OK);
        let mut body = Box::pin(stream.bytes_stream());
        let mut buffered = String::new();
        if first == 4 {
            let body = json!({ "conversation_id": id, "text": "n4", "local_id": "m-4" });
            assert_eq!(app.chat(&token, &body).await.status(), StatusCode::ACCEPTED);
        }
        let (event, data, event_id) =
            next_event_with_id(&mut body, &mut buffered, Duration::from_secs(5))
                .await
                .expect("an event");
        assert_eq!(event, "message");
        let message: Value = serde_json::from_str(&data).expect("message JSON");
        assert_eq!(message["seq"], first);
        assert_eq!(event_id, first.to_string(), "the event's id is its number");
    }
}

on_both_stores!(
    racing_senders_and_retries_get_every_number_once,
    lists_page_by_number,
    the_stream_names_messages_by_number_and_resumes_after_one,
);
