//! A live stream lasts only as long as its reader may read: it ends, with a `closed`
//! event that says why, when the session signs out or expires, when the reader no longer
//! takes part, or when the same user opens more streams than the server keeps.

use crate::helpers::{TestApp, execute, inquiry, next_event};
use crate::on_both_stores;
use reqwest::StatusCode;
use std::time::Duration;

/// Long enough for a check (every 2 s) past the caches' trust (5 s).
const RECHECKED: Duration = Duration::from_secs(10);

/// A live stream of conversation `id` for `token`.
async fn open_stream(app: &TestApp, token: &str, id: &str) -> reqwest::Response {
    let stream = app
        .get(token, &format!("/api/messages/conversations/{id}/stream"))
        .await;
    assert_eq!(stream.status(), StatusCode::OK);
    stream
}

/// Alice's inquiry to northwind, whose member is carol.
async fn conversation(app: &TestApp, key: &str) -> String {
    let alice = app.sign_in("alice").await;
    let agency = app.agency_id("northwind").await;
    let created = app
        .created(&alice, key, &inquiry(&agency, "Hello!", key))
        .await;
    created["conversation"]["id"]
        .as_str()
        .expect("id")
        .to_owned()
}

/// Asserts the stream's next event is `closed` with `reason`, and that it then ends.
async fn assert_closed(stream: reqwest::Response, reason: &str, within: Duration) {
    let mut body = Box::pin(stream.bytes_stream());
    let mut buffered = String::new();
    let event = next_event(&mut body, &mut buffered, within).await;
    assert_eq!(event, Some(("closed".to_owned(), reason.to_owned())));
    assert_eq!(next_event(&mut body, &mut buffered, within).await, None);
}

async fn a_stream_ends_at_once_when_its_session_signs_out(app: TestApp) {
    let id = conversation(&app, "so-1").await;
    let carol = app.sign_in("carol").await;
    let stream = open_stream(&app, &carol, &id).await;
    app.sign_out(&carol).await;
    assert_closed(stream, "signed_out", Duration::from_secs(2)).await;
}

async fn a_stream_ends_when_its_session_expires_or_its_reader_leaves(app: TestApp) {
    let id = conversation(&app, "ex-1").await;
    // Alice, who started the conversation, signed in anew; carol, its agency's member.
    let expiring = app.sign_in("alice").await;
    let leaving = app.sign_in("carol").await;
    let expires = open_stream(&app, &expiring, &id).await;
    let leaves = open_stream(&app, &leaving, &id).await;
    // The session's time is up, and then carol leaves the agency.
    let expired = sha256_hex(&expiring);
    execute(
        &app.database_url,
        &format!("UPDATE sessions SET expires_at = 0 WHERE token_hash = '{expired}'"),
    )
    .await;
    execute(
        &app.database_url,
        "DELETE FROM agency_members WHERE user_id = (SELECT id FROM users WHERE username = 'carol')",
    )
    .await;
    tokio::join!(
        assert_closed(expires, "signed_out", RECHECKED),
        assert_closed(leaves, "not_participant", RECHECKED),
    );
}

async fn a_users_streams_are_capped_and_the_oldest_makes_room(app: TestApp) {
    let id = conversation(&app, "cap-1").await;
    let carol = app.sign_in("carol").await;
    let oldest = open_stream(&app, &carol, &id).await;
    let mut newer = Vec::new();
    for _ in 0..server::events::MAX_STREAMS_PER_USER {
        newer.push(open_stream(&app, &carol, &id).await);
    }
    assert_closed(oldest, "replaced", Duration::from_secs(2)).await;
}

fn sha256_hex(token: &str) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(token.as_bytes()))
}

on_both_stores!(
    a_stream_ends_at_once_when_its_session_signs_out,
    a_stream_ends_when_its_session_expires_or_its_reader_leaves,
    a_users_streams_are_capped_and_the_oldest_makes_room,
);
