//! New chat messages are written a conversation's batch at a time: those that arrive
//! while the conversation's previous batch is being written go in the next one together,
//! numbered in order, and a refused one among them refuses only itself.

use crate::helpers::{ServerProcess, Store, TestApp, fresh_database};
use futures_util::future::join_all;
use reqwest::StatusCode;
use serde_json::{Value, json};

/// How many messages race while the first one's commit is held back.
const RACERS: usize = 20;

/// The first message's commit is held back a second (a fault point); the messages sent
/// meanwhile wait for it, then are written by one transaction: one time for all of them
/// (a transaction's), the numbers after the first's, none twice. Among them a repeat of
/// the first with other text is refused alone, and a repeat of a racer is answered with
/// the racer's message.
async fn messages_sent_while_their_conversation_is_written_share_the_next_transaction(
    store: Store,
) {
    let (database_url, _dir) = fresh_database(store).await;
    let server = ServerProcess::start_with_env(
        &database_url,
        &[("FAILPOINTS", "before_message_commit=1*sleep(1000)")],
    )
    .await;
    let app = TestApp::at(server.address.clone(), database_url);
    let (alice, id) = app.alice_asks_northwind().await;
    let chat = |text: &str, local_id: &str| json!({ "conversation_id": id, "text": text, "local_id": local_id });

    let mut bodies: Vec<Value> = (0..RACERS)
        .map(|n| chat(&format!("Racer {n}"), &format!("racer-{n}")))
        .collect();
    bodies.push(chat("Racer 0", "racer-0"));
    bodies.push(chat("Not the first", "first"));
    let first = async {
        let response = app.chat(&alice, &chat("First", "first")).await;
        assert_eq!(response.status(), StatusCode::ACCEPTED);
        response.json::<Value>().await.expect("a JSON body")
    };
    // Sent once the first is being written (its commit waits a second).
    let racing = async {
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        join_all(bodies.iter().map(|body| async {
            let response = app.chat(&alice, body).await;
            let status = response.status();
            (status, response.json::<Value>().await.expect("a JSON body"))
        }))
        .await
    };
    let (first, answers) = tokio::join!(first, racing);

    let (refused_status, refused) = answers.last().expect("the mismatch");
    assert_eq!(
        *refused_status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{refused}"
    );
    let racers: Vec<&Value> = answers[..=RACERS]
        .iter()
        .map(|(status, body)| {
            assert_eq!(*status, StatusCode::ACCEPTED, "{body}");
            &body["message"]
        })
        .collect();
    assert_eq!(
        racers[0], racers[RACERS],
        "a repeat gets the racer's message"
    );
    let times: std::collections::HashSet<&str> = racers
        .iter()
        .map(|m| m["created_at"].as_str().expect("a time"))
        .collect();
    assert_eq!(times.len(), 1, "one transaction's time: {times:?}");
    let mut seqs: Vec<u64> = racers[..RACERS]
        .iter()
        .map(|m| m["seq"].as_u64().expect("a number"))
        .collect();
    seqs.sort_unstable();
    let after_first = first["message"]["seq"].as_u64().expect("a number") + 1;
    let expected: Vec<u64> = (after_first..after_first + RACERS as u64).collect();
    assert_eq!(seqs, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(feature = "failpoints"),
    ignore = "needs the server's fault points: cargo test --features server/failpoints"
)]
async fn on_sqlite_messages_sent_while_their_conversation_is_written_share_the_next_transaction() {
    messages_sent_while_their_conversation_is_written_share_the_next_transaction(Store::Sqlite)
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(feature = "failpoints"),
    ignore = "needs the server's fault points: cargo test --features server/failpoints"
)]
async fn on_postgresql_messages_sent_while_their_conversation_is_written_share_the_next_transaction()
 {
    messages_sent_while_their_conversation_is_written_share_the_next_transaction(Store::Postgres)
        .await;
}
