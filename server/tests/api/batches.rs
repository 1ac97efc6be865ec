//! New chat messages are written a batch at a time: those that arrive while the previous
//! batch is being written go in the next one together, whatever their conversations, each
//! conversation's numbered in order, and a refused one among them refuses only itself.

use crate::helpers::{ServerProcess, Store, TestApp, fresh_database, inquiry, open_transaction};
use futures_util::future::join_all;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::collections::HashSet;

/// How many messages race while the first one's commit is held back, half of them to a
/// second conversation.
const RACERS: usize = 20;

/// The first message's commit is held back a second (a fault point); the messages sent
/// meanwhile, to its conversation and to another, wait for it, then are written by one
/// transaction: one time for all of them (a transaction's), each conversation's next
/// numbers, none twice. Among them a repeat of the first with other text is refused
/// alone, and a repeat of a racer is answered with the racer's message.
async fn messages_sent_while_a_batch_is_written_share_the_next_transaction(store: Store) {
    let (database_url, _dir) = fresh_database(store).await;
    let server = ServerProcess::start_with_env(
        &database_url,
        &[("FAILPOINTS", "before_message_batch=1*sleep(1000)")],
    )
    .await;
    let app = TestApp::at(server.address.clone(), database_url);
    let (alice, northwind) = app.alice_asks_northwind().await;
    let blue_harbor = app.agency_id("blue-harbor").await;
    let other = app
        .created(&alice, "key-2", &inquiry(&blue_harbor, "Hello!", "m-0"))
        .await;
    let other = other["conversation"]["id"].as_str().expect("id").to_owned();
    let chat = |conversation: &str, text: &str, local_id: &str| json!({ "conversation_id": conversation, "text": text, "local_id": local_id });

    let mut bodies: Vec<Value> = (0..RACERS)
        .map(|n| {
            let conversation = if n % 2 == 0 { &northwind } else { &other };
            chat(conversation, &format!("Racer {n}"), &format!("racer-{n}"))
        })
        .collect();
    bodies.push(chat(&northwind, "Racer 0", "racer-0"));
    bodies.push(chat(&other, "Another conversation's first", "first"));
    bodies.push(chat(&northwind, "Not the first", "first"));
    let first = async {
        let response = app.chat(&alice, &chat(&northwind, "First", "first")).await;
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
    // A `local_id` is one message per conversation: in another, the same one is new.
    let (status, same_local_id) = &answers[RACERS + 1];
    assert_eq!(*status, StatusCode::ACCEPTED, "{same_local_id}");
    assert_eq!(same_local_id["message"]["conversation_id"], other.as_str());
    assert_eq!(
        same_local_id["message"]["text"],
        "Another conversation's first"
    );
    let times: HashSet<&str> = racers
        .iter()
        .map(|m| m["created_at"].as_str().expect("a time"))
        .collect();
    assert_eq!(times.len(), 1, "one transaction's time: {times:?}");

    let numbers_in = |conversation: &str| {
        let mut seqs: Vec<u64> = racers[..RACERS]
            .iter()
            .filter(|m| m["conversation_id"] == conversation)
            .map(|m| m["seq"].as_u64().expect("a number"))
            .collect();
        seqs.sort_unstable();
        seqs
    };
    let half = RACERS as u64 / 2;
    let after_first = first["message"]["seq"].as_u64().expect("a number") + 1;
    assert_eq!(
        numbers_in(&northwind),
        (after_first..after_first + half).collect::<Vec<_>>()
    );
    let mut in_other = numbers_in(&other);
    in_other.push(same_local_id["message"]["seq"].as_u64().expect("a number"));
    in_other.sort_unstable();
    assert_eq!(in_other, (2..3 + half).collect::<Vec<_>>());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(feature = "failpoints"),
    ignore = "needs the server's fault points: cargo test --features server/failpoints"
)]
async fn on_sqlite_messages_sent_while_a_batch_is_written_share_the_next_transaction() {
    messages_sent_while_a_batch_is_written_share_the_next_transaction(Store::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(feature = "failpoints"),
    ignore = "needs the server's fault points: cargo test --features server/failpoints"
)]
async fn on_postgresql_messages_sent_while_a_batch_is_written_share_the_next_transaction() {
    messages_sent_while_a_batch_is_written_share_the_next_transaction(Store::Postgres).await;
}

/// A repeat of a message this process never saw (stored through another process) is
/// found by its batch's read and answered with the stored message; the process then
/// remembers it, so the next repeat takes no batch: a second pass at the fault point
/// would stop the process (`1*off->return`).
async fn a_repeat_found_by_a_batch_is_answered_from_memory_after(store: Store) {
    let (database_url, _dir) = fresh_database(store).await;
    let first = ServerProcess::start(&database_url).await;
    let second = ServerProcess::start_with_env(
        &database_url,
        &[("FAILPOINTS", "before_message_batch=1*off->return")],
    )
    .await;
    let via_first = TestApp::at(first.address.clone(), database_url.clone());
    let via_second = TestApp::at(second.address.clone(), database_url);
    let (alice, id) = via_first.alice_asks_northwind().await;
    let body = json!({ "conversation_id": id, "text": "Once", "local_id": "once" });
    let stored = via_first.chat(&alice, &body).await;
    assert_eq!(stored.status(), StatusCode::ACCEPTED);
    let stored: Value = stored.json().await.expect("a JSON body");

    for _ in 0..3 {
        let repeat = via_second.chat(&alice, &body).await;
        assert_eq!(repeat.status(), StatusCode::ACCEPTED);
        assert_eq!(
            repeat
                .headers()
                .get("idempotent-replayed")
                .map(|v| v.as_bytes()),
            Some(&b"true"[..])
        );
        let repeat: Value = repeat.json().await.expect("a JSON body");
        assert_eq!(repeat, stored);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(feature = "failpoints"),
    ignore = "needs the server's fault points: cargo test --features server/failpoints"
)]
async fn on_sqlite_a_repeat_found_by_a_batch_is_answered_from_memory_after() {
    a_repeat_found_by_a_batch_is_answered_from_memory_after(Store::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(feature = "failpoints"),
    ignore = "needs the server's fault points: cargo test --features server/failpoints"
)]
async fn on_postgresql_a_repeat_found_by_a_batch_is_answered_from_memory_after() {
    a_repeat_found_by_a_batch_is_answered_from_memory_after(Store::Postgres).await;
}

/// A batch whose insert meets a message stored before (through another process), among
/// new ones, is written again, reading first: the repeat is answered with the stored
/// message, and the new ones take the next numbers, with no number left unused.
async fn new_messages_batched_with_a_repeat_stored_before_leave_no_gap(store: Store) {
    let (database_url, _dir) = fresh_database(store).await;
    let first = ServerProcess::start(&database_url).await;
    let second = ServerProcess::start_with_env(
        &database_url,
        &[("FAILPOINTS", "before_message_batch=1*sleep(500)")],
    )
    .await;
    let via_first = TestApp::at(first.address.clone(), database_url.clone());
    let via_second = TestApp::at(second.address.clone(), database_url.clone());
    let (alice, id) = via_first.alice_asks_northwind().await;
    let chat = |text: &str, local_id: &str| json!({ "conversation_id": id, "text": text, "local_id": local_id });
    let stored = via_first.chat(&alice, &chat("Before", "before")).await;
    let stored: Value = stored.json().await.expect("a JSON body");

    // The first through the second process holds its batch's commit; the others arrive
    // meanwhile and share the next batch.
    let held = async {
        let response = via_second.chat(&alice, &chat("Held", "held")).await;
        response.json::<Value>().await.expect("a JSON body")
    };
    let batched = async {
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        join_all([("One", "one"), ("Before", "before"), ("Two", "two")].map(
            |(text, local_id)| async {
                let response = via_second.chat(&alice, &chat(text, local_id)).await;
                assert_eq!(response.status(), StatusCode::ACCEPTED);
                response.json::<Value>().await.expect("a JSON body")
            },
        ))
        .await
    };
    let (held, batched) = tokio::join!(held, batched);

    assert_eq!(
        batched[1], stored,
        "the repeat is answered with the stored message"
    );
    let seq = |answer: &Value| answer["message"]["seq"].as_u64().expect("a number");
    let after_held = seq(&held) + 1;
    let mut new_seqs = [seq(&batched[0]), seq(&batched[2])];
    new_seqs.sort_unstable();
    assert_eq!(new_seqs, [after_held, after_held + 1]);
    let in_conversation =
        |what: &str| format!("SELECT {what} FROM messages WHERE conversation_id = '{id}'");
    assert_eq!(via_first.count(&in_conversation("COUNT(*)")).await, 5);
    assert_eq!(via_first.count(&in_conversation("MAX(seq)")).await, 5);
    // The conversation's next number follows on.
    let next = via_first.chat(&alice, &chat("After", "after")).await;
    let next: Value = next.json().await.expect("a JSON body");
    assert_eq!(seq(&next), 6);
    // Operators see a batch written again.
    let metrics = via_second.metrics().await;
    assert!(
        metrics.contains("dedup_batches_written_again_total 1"),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(feature = "failpoints"),
    ignore = "needs the server's fault points: cargo test --features server/failpoints"
)]
async fn on_sqlite_new_messages_batched_with_a_repeat_stored_before_leave_no_gap() {
    new_messages_batched_with_a_repeat_stored_before_leave_no_gap(Store::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(feature = "failpoints"),
    ignore = "needs the server's fault points: cargo test --features server/failpoints"
)]
async fn on_postgresql_new_messages_batched_with_a_repeat_stored_before_leave_no_gap() {
    new_messages_batched_with_a_repeat_stored_before_leave_no_gap(Store::Postgres).await;
}

/// A batch that waits for a conversation's row another transaction holds (PostgreSQL)
/// gives up after the lock timeout: its messages are answered 503 with Retry-After, and
/// their retry once the row is free is stored. The batch is one statement outside any
/// transaction, so the bound is set on the connection, not by the transaction's start.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_waiting_on_a_locked_conversation_gives_up_with_a_503() {
    use sqlx::Executor;
    let (database_url, _dir) = fresh_database(Store::Postgres).await;
    let server = ServerProcess::start(&database_url).await;
    let app = TestApp::at(server.address.clone(), database_url.clone());
    let (alice, id) = app.alice_asks_northwind().await;
    let mut holder = open_transaction(&database_url).await;
    sqlx::query("SELECT id FROM conversations WHERE id = $1 FOR UPDATE")
        .bind(&id)
        .fetch_one(&mut holder)
        .await
        .expect("the row locked");

    let body = json!({ "conversation_id": id, "text": "Waits", "local_id": "waits" });
    let waited = tokio::time::timeout(std::time::Duration::from_secs(8), app.chat(&alice, &body))
        .await
        .expect("answered within the lock timeout, not held for as long as the lock");
    assert_eq!(waited.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(waited.headers().get("retry-after").is_some());

    holder.execute("ROLLBACK").await.expect("ROLLBACK");
    let retried = app.chat(&alice, &body).await;
    assert_eq!(retried.status(), StatusCode::ACCEPTED);
}
