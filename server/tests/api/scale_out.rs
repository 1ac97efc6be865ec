//! Several server processes on one PostgreSQL: the live stream reaches a participant
//! connected to another process than the sender's (the processes share `LISTEN`/`NOTIFY`).

use crate::helpers::{ServerProcess, Store, TestApp, fresh_database, inquiry, streamed_local_ids};
use reqwest::StatusCode;
use serde_json::json;

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
