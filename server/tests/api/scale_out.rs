//! Several server processes on one PostgreSQL: the live stream reaches a participant
//! connected to another process than the sender's, and ends at once when its session
//! signs out through another process (the processes share `LISTEN`/`NOTIFY`).

use crate::helpers::{
    ServerProcess, Store, TestApp, fresh_database, inquiry, next_event, streamed_local_ids,
};
use reqwest::StatusCode;
use serde_json::json;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_live_stream_reaches_a_participant_connected_to_another_process() {
    let (database_url, _dir) = fresh_database(Store::Postgres).await;
    let first = ServerProcess::start(&database_url).await;
    let second = ServerProcess::start(&database_url).await;
    let sender = TestApp::at(first.address.clone(), database_url.clone());
    let reader = TestApp::at(second.address.clone(), database_url.clone());

    let alice = sender.sign_in("alice").await;
    let agency = sender.agency_id("northwind").await;
    let created = sender
        .created(&alice, "key-1", &inquiry(&agency, "Hello!", "m-1"))
        .await;
    let id = created["conversation"]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let carol = reader.sign_in("carol").await;
    let stream = reader
        .get(&carol, &format!("/api/messages/conversations/{id}/stream"))
        .await;
    assert_eq!(stream.status(), StatusCode::OK);

    // Through the first process; the repeat is a retry and is not streamed again.
    for (text, local_id) in [("First", "s-1"), ("First", "s-1"), ("Second", "s-2")] {
        let body = json!({ "conversation_id": id, "text": text, "local_id": local_id });
        assert_eq!(
            sender.chat(&alice, &body).await.status(),
            StatusCode::ACCEPTED
        );
    }

    assert_eq!(streamed_local_ids(stream, 2).await, ["s-1", "s-2"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_out_through_one_process_ends_the_session_at_once_on_another() {
    let (database_url, _dir) = fresh_database(Store::Postgres).await;
    let first = ServerProcess::start(&database_url).await;
    let second = ServerProcess::start(&database_url).await;
    let one = TestApp::at(first.address.clone(), database_url.clone());
    let other = TestApp::at(second.address.clone(), database_url.clone());

    let alice = one.sign_in("alice").await;
    let agency = one.agency_id("northwind").await;
    let created = one
        .created(&alice, "key-1", &inquiry(&agency, "Hello!", "m-1"))
        .await;
    let id = created["conversation"]["id"].as_str().expect("id");
    let stream = other
        .get(&alice, &format!("/api/messages/conversations/{id}/stream"))
        .await;
    assert_eq!(stream.status(), StatusCode::OK);
    one.sign_out(&alice).await;

    let mut body = Box::pin(stream.bytes_stream());
    let mut buffered = String::new();
    let within = Duration::from_secs(2);
    assert_eq!(
        next_event(&mut body, &mut buffered, within).await,
        Some(("closed".to_owned(), "signed_out".to_owned()))
    );
    assert_eq!(next_event(&mut body, &mut buffered, within).await, None);
    // The other process had the session in its cache (the stream used it, and trusts it
    // for 5 s): forgotten as the stream ended.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(1);
    while other.get(&alice, "/api/session").await.status() != StatusCode::UNAUTHORIZED {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the token still works on the other process"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
