//! Really racing requests: dozens at once, in one server and across two server processes.

use crate::helpers::{ServerProcess, Store, TestApp, count_rows, fresh_database, inquiry};
use crate::on_both_stores;
use futures_util::future::join_all;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::collections::HashSet;
use std::time::Duration;
use tempfile::TempDir;

const RACERS: usize = 40;

async fn sign_in_and_agency(app: &TestApp) -> (String, String) {
    (app.sign_in("alice").await, app.agency_id("northwind").await)
}

/// A double (and 40-fold) click: the same key at once. One row; every success carries
/// the same body; the rest are told the first is in flight.
async fn racing_identical_creates_store_one_conversation_and_one_message(app: TestApp) {
    let (token, agency) = sign_in_and_agency(&app).await;
    let body = inquiry(&agency, "Hello!", "m-1");
    let responses =
        join_all((0..RACERS).map(|_| app.create_conversation(&token, "same-key", &body))).await;
    let mut bodies = HashSet::new();
    for response in responses {
        match response.status() {
            StatusCode::CREATED => {
                bodies.insert(response.text().await.expect("body"));
            }
            StatusCode::CONFLICT => {
                assert_eq!(response.headers()["retry-after"], "1");
                let problem: Value = response.json().await.expect("json");
                assert_eq!(problem["code"], "idempotency_key_in_flight");
            }
            other => panic!("unexpected status {other}"),
        }
    }
    assert_eq!(bodies.len(), 1, "all successes carry one body");
    assert_eq!(app.count("SELECT COUNT(*) FROM conversations").await, 1);
    assert_eq!(app.count("SELECT COUNT(*) FROM messages").await, 1);
    // Once the dust settles the key replays.
    let replay = app.create_conversation(&token, "same-key", &body).await;
    assert_eq!(replay.headers()["idempotent-replayed"], "true");
    assert!(bodies.contains(&replay.text().await.expect("body")));
}

/// Many tabs, each with its own key, racing to contact the same agency.
async fn racing_creates_with_different_keys_merge_into_one_conversation(app: TestApp) {
    let (token, agency) = sign_in_and_agency(&app).await;
    let responses = join_all((0..RACERS).map(|n| {
        let body = inquiry(&agency, &format!("Tab {n}"), &format!("tab-{n}"));
        let token = token.clone();
        let app = &app;
        async move {
            app.create_conversation(&token, &format!("key-{n}"), &body)
                .await
        }
    }))
    .await;
    let mut ids = HashSet::new();
    let mut created = 0;
    for response in responses {
        let status = response.status();
        assert!(
            status == StatusCode::CREATED || status == StatusCode::OK,
            "{status}"
        );
        created += usize::from(status == StatusCode::CREATED);
        let body: Value = response.json().await.expect("json");
        assert_eq!(
            body["dedup"].as_str(),
            (status == StatusCode::OK).then_some("natural_key")
        );
        ids.insert(body["conversation"]["id"].as_str().expect("id").to_owned());
    }
    assert_eq!((created, ids.len()), (1, 1));
    assert_eq!(app.count("SELECT COUNT(*) FROM conversations").await, 1);
    let expected = i64::try_from(RACERS).expect("small");
    assert_eq!(app.count("SELECT COUNT(*) FROM messages").await, expected);
}

async fn racing_sends_of_one_local_id_store_one_message(app: TestApp) {
    let (token, agency) = sign_in_and_agency(&app).await;
    let created: Value = app
        .created(&token, "key", &inquiry(&agency, "Hello!", "m-0"))
        .await;
    let id = created["conversation"]["id"].as_str().expect("id");
    let body = json!({ "conversation_id": id, "text": "Once only", "local_id": "m-1" });
    let responses = join_all((0..RACERS).map(|_| app.chat(&token, &body))).await;
    let mut message_ids = HashSet::new();
    for response in responses {
        assert_eq!(response.status(), StatusCode::ACCEPTED);
        let body: Value = response.json().await.expect("json");
        message_ids.insert(body["message"]["id"].as_str().expect("id").to_owned());
    }
    assert_eq!(message_ids.len(), 1);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM messages WHERE local_id = 'm-1'")
            .await,
        1
    );
}

/// The client gives up before the answer (a lost response), then retries: the intent
/// is completed exactly once, whether the first attempt committed or not.
async fn a_response_lost_in_flight_then_retried_completes_the_intent_once(app: TestApp) {
    let (token, agency) = sign_in_and_agency(&app).await;
    let body = inquiry(&agency, "Hello!", "m-1");
    let impatient = reqwest::Client::builder()
        .timeout(Duration::from_millis(5))
        .build()
        .expect("client");
    for attempt in 0..5 {
        let key = format!("lost-{attempt}");
        let _lost = impatient
            .post(app.url("/api/messages/conversations"))
            .bearer_auth(&token)
            .header("Idempotency-Key", &key)
            .json(&body)
            .send()
            .await;
        let retry = loop {
            let response = app.create_conversation(&token, &key, &body).await;
            if response.status() != StatusCode::CONFLICT {
                break response;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        assert!(retry.status().is_success(), "{}", retry.status());
    }
    assert_eq!(app.count("SELECT COUNT(*) FROM conversations").await, 1);
    assert_eq!(app.count("SELECT COUNT(*) FROM messages").await, 1);
    let first: Value = app.created(&token, "lost-0", &body).await;
    assert_eq!(first["message"]["local_id"], "m-1");
}

/// Clients that give up mid-request (a timeout, a closed tab) must not hurt anyone else:
/// their writes are finished or never started, and every later write still succeeds.
/// (A write transaction dropped halfway used to leave its pooled connection in a
/// transaction, and every later write on it failed with a 500; the benchmark found it.)
async fn requests_abandoned_by_their_clients_leave_the_store_healthy(app: TestApp) {
    let (token, agency) = sign_in_and_agency(&app).await;
    let created = app
        .create_conversation(&token, "first", &inquiry(&agency, "Hello", "m-0"))
        .await;
    let conversation: Value = created.json().await.expect("json");
    let conversation = conversation["conversation"]["id"].clone();
    // Time-outs from 1 to 10 ms, so some land in the middle of a transaction.
    for round in 0..10u64 {
        let impatient = reqwest::Client::builder()
            .timeout(Duration::from_millis(1 + round))
            .build()
            .expect("client");
        let chats = (0..RACERS).map(|i| {
            impatient
                .post(app.url("/api/chat"))
                .bearer_auth(&token)
                .json(&json!({ "conversation_id": conversation, "text": "gone", "local_id": format!("gone-{round}-{i}") }))
                .send()
        });
        let creates = (0..RACERS).map(|i| {
            impatient
                .post(app.url("/api/messages/conversations"))
                .bearer_auth(&token)
                .header("Idempotency-Key", format!("gone-{round}-{i}"))
                .json(&inquiry(&agency, "gone", &format!("merged-{round}-{i}")))
                .send()
        });
        join_all(chats.chain(creates)).await;
    }
    for i in 0..RACERS {
        let body = json!({ "conversation_id": conversation, "text": "still here", "local_id": format!("after-{i}") });
        assert_eq!(
            app.chat(&token, &body).await.status(),
            StatusCode::ACCEPTED,
            "write {i} after the abandoned ones"
        );
        let merged = app
            .create_conversation(
                &token,
                &format!("after-{i}"),
                &inquiry(&agency, "still here", &format!("after-merge-{i}")),
            )
            .await;
        assert_eq!(
            merged.status(),
            StatusCode::OK,
            "merge {i} after the abandoned ones"
        );
    }
    assert_eq!(app.count("SELECT COUNT(*) FROM conversations").await, 1);
}

on_both_stores!(
    requests_abandoned_by_their_clients_leave_the_store_healthy,
    racing_identical_creates_store_one_conversation_and_one_message,
    racing_creates_with_different_keys_merge_into_one_conversation,
    racing_sends_of_one_local_id_store_one_message,
    a_response_lost_in_flight_then_retried_completes_the_intent_once,
);

/// Two server processes on one fresh database, and a client of each.
struct TwoProcesses {
    apps: [TestApp; 2],
    database_url: String,
    _processes: [ServerProcess; 2],
    _dir: Option<TempDir>,
}

async fn two_processes(store: Store) -> TwoProcesses {
    let (database_url, dir) = fresh_database(store).await;
    let processes = [
        ServerProcess::start(&database_url).await,
        ServerProcess::start(&database_url).await,
    ];
    TwoProcesses {
        apps: processes
            .each_ref()
            .map(|process| TestApp::at(process.address.clone(), database_url.clone())),
        database_url,
        _processes: processes,
        _dir: dir,
    }
}

/// Two processes share one database; requests for the same intents alternate between
/// them. The unique constraints, not any process's memory, keep one row.
async fn two_server_processes_racing_the_same_intents_leave_one_row(store: Store) {
    let TwoProcesses {
        apps, database_url, ..
    } = &two_processes(store).await;
    let (token, agency) = sign_in_and_agency(&apps[0]).await;

    let body = inquiry(&agency, "Hello from two processes", "m-1");
    let responses = join_all((0..RACERS).map(|n| {
        // Half share one key (a retried click), half bring their own (other tabs).
        let key = if n % 4 < 2 {
            "shared".to_owned()
        } else {
            format!("key-{n}")
        };
        let (app, token, body) = (&apps[n % 2], &token, &body);
        async move { app.create_conversation(token, &key, body).await }
    }))
    .await;
    for response in responses {
        let status = response.status();
        assert!(
            matches!(
                status,
                StatusCode::CREATED | StatusCode::OK | StatusCode::CONFLICT
            ),
            "{status}"
        );
    }
    assert_eq!(
        count_rows(database_url, "SELECT COUNT(*) FROM conversations").await,
        1
    );
    assert_eq!(
        count_rows(database_url, "SELECT COUNT(*) FROM messages").await,
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_server_processes_on_one_postgresql_leave_one_row() {
    two_server_processes_racing_the_same_intents_leave_one_row(Store::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_server_processes_on_one_sqlite_file_leave_one_row() {
    two_server_processes_racing_the_same_intents_leave_one_row(Store::Sqlite).await;
}

/// Two processes share one database and each gets the same chat messages at once (a
/// retry sent to another process while the first try runs): every send is answered 202
/// with the one stored message, never a 5xx, and each local_id has one row and one number.
async fn two_server_processes_racing_the_same_messages_store_each_once(store: Store) {
    let TwoProcesses {
        apps, database_url, ..
    } = &two_processes(store).await;
    let (token, id) = apps[0].alice_asks_northwind().await;
    let bodies: Vec<Value> = (0..RACERS / 4)
        .map(|n| json!({ "conversation_id": id, "text": format!("Twice {n}"), "local_id": format!("twice-{n}") }))
        .collect();
    let sends = bodies
        .iter()
        .flat_map(|body| apps.iter().map(move |app| (app, body)))
        .map(|(app, body)| async {
            let response = app.chat(&token, body).await;
            assert_eq!(response.status(), StatusCode::ACCEPTED);
            let answer: Value = response.json().await.expect("json");
            answer["message"]["id"].as_str().expect("id").to_owned()
        });
    let answered: HashSet<String> = join_all(sends).await.into_iter().collect();
    assert_eq!(answered.len(), RACERS / 4, "one message per local_id");
    // The conversation's first message, then one per local_id, numbered without a gap.
    let stored = i64::try_from(RACERS / 4).expect("small") + 1;
    let count = |sql: &'static str| count_rows(database_url, sql);
    assert_eq!(count("SELECT COUNT(*) FROM messages").await, stored);
    assert_eq!(
        count("SELECT COUNT(DISTINCT seq) FROM messages").await,
        stored
    );
    assert_eq!(count("SELECT MAX(seq) FROM messages").await, stored);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_server_processes_on_one_postgresql_store_each_message_once() {
    two_server_processes_racing_the_same_messages_store_each_once(Store::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_server_processes_on_one_sqlite_file_store_each_message_once() {
    two_server_processes_racing_the_same_messages_store_each_once(Store::Sqlite).await;
}

/// Two creates with key "k" at once: the one answered first, and the other still running.
async fn race_two_creates(
    app: &TestApp,
    token: &str,
    body: &Value,
) -> (
    reqwest::Response,
    tokio::task::JoinHandle<reqwest::Result<reqwest::Response>>,
) {
    let send = || {
        let request = app
            .client
            .post(app.url("/api/messages/conversations"))
            .bearer_auth(token)
            .header("Idempotency-Key", "k")
            .json(body);
        tokio::spawn(request.send())
    };
    let (mut a, mut b) = (send(), send());
    let (first, other) = tokio::select! {
        done = &mut a => (done, b),
        done = &mut b => (done, a),
    };
    (first.expect("task").expect("response"), other)
}

async fn hold(database_url: &str) -> sqlx::AnyConnection {
    use sqlx::Connection;
    sqlx::any::install_default_drivers();
    sqlx::AnyConnection::connect(database_url)
        .await
        .expect("side connection")
}

/// While the first request with a key is running, the same key gets 409 with
/// Retry-After at once; afterwards it replays. The first request is held inside its
/// transaction by a side connection that owns SQLite's write lock.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_key_while_the_first_is_in_flight_is_409_with_retry_after() {
    use sqlx::Executor;
    let app = crate::helpers::spawn_app(Store::Sqlite).await;
    let (token, agency) = sign_in_and_agency(&app).await;
    let body = inquiry(&agency, "Hello!", "m-1");

    let mut side = hold(&app.database_url).await;
    side.execute("BEGIN IMMEDIATE").await.expect("write lock");
    // Whichever request claims the key first is held by the lock; the other is refused.
    let (refused, held) = race_two_creates(&app, &token, &body).await;
    assert_eq!(refused.status(), StatusCode::CONFLICT);
    assert_eq!(refused.headers()["retry-after"], "1");
    let problem: Value = refused.json().await.expect("json");
    assert_eq!(problem["code"], "idempotency_key_in_flight");
    assert_eq!(problem["retry_after_secs"], 1);
    assert!(!held.is_finished(), "the other request waits for the lock");

    side.execute("ROLLBACK").await.expect("release");
    let held = held.await.expect("task").expect("response");
    assert_eq!(held.status(), StatusCode::CREATED);
    let replay = app.create_conversation(&token, "k", &body).await;
    assert_eq!(replay.headers()["idempotent-replayed"], "true");
    assert_eq!(app.count("SELECT COUNT(*) FROM conversations").await, 1);
}

/// The key is completed elsewhere (here: a side connection, as another process would)
/// while a request with it waits for the write lock: that request's writes roll back and
/// the stored response answers, replayed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_completed_elsewhere_meanwhile_rolls_this_request_back_and_replays() {
    use sqlx::{Executor, Row};
    let app = crate::helpers::spawn_app(Store::Sqlite).await;
    let (token, agency) = sign_in_and_agency(&app).await;
    let body = inquiry(&agency, "Hello!", "m-1");

    // The record the other process will store: this payload's, under key "k".
    let first = app.create_conversation(&token, "first", &body).await;
    assert_eq!(first.status(), StatusCode::CREATED);
    let mut side = hold(&app.database_url).await;
    let record = sqlx::query(
        "SELECT user_id, endpoint, fingerprint FROM idempotency_keys WHERE idempotency_key = 'first'",
    )
    .fetch_one(&mut side)
    .await
    .expect("the first record");
    for table in ["idempotency_keys", "messages", "conversations"] {
        side.execute(format!("DELETE FROM {table}").as_str())
            .await
            .expect("a clean slate");
    }
    side.execute("BEGIN IMMEDIATE").await.expect("write lock");
    sqlx::query(
        "INSERT INTO idempotency_keys (user_id, idempotency_key, endpoint, fingerprint, response_status, \
         response_body, created_at, expires_at) VALUES ($1, 'k', $2, $3, 201, '{\"stored\":\"elsewhere\"}', 0, 9223372036854775807)",
    )
    .bind(record.try_get::<String, _>("user_id").expect("user_id"))
    .bind(record.try_get::<String, _>("endpoint").expect("endpoint"))
    .bind(record.try_get::<String, _>("fingerprint").expect("fingerprint"))
    .execute(&mut side)
    .await
    .expect("the other process's record");

    // One of two requests is refused as in flight: the other has read the key (not there
    // yet for it) and waits for the lock, so it must find the key taken at its end.
    let (refused, held) = race_two_creates(&app, &token, &body).await;
    assert_eq!(refused.status(), StatusCode::CONFLICT);
    side.execute("COMMIT")
        .await
        .expect("the other process commits");

    let held = held.await.expect("task").expect("response");
    assert_eq!(held.status(), StatusCode::CREATED);
    assert_eq!(held.headers()["idempotent-replayed"], "true");
    assert_eq!(
        held.text().await.expect("body"),
        r#"{"stored":"elsewhere"}"#
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM conversations").await, 0);
    assert_eq!(app.count("SELECT COUNT(*) FROM messages").await, 0);
}

/// Another process (here a side transaction) holds the key's row on PostgreSQL: the
/// request waits for the lock timeout, then answers 409; once released, it succeeds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_in_flight_in_another_process_is_409_on_postgresql() {
    use sqlx::{Executor, Row};
    let app = crate::helpers::spawn_app(Store::Postgres).await;
    let (token, agency) = sign_in_and_agency(&app).await;
    let body = inquiry(&agency, "Hello!", "m-1");

    let mut side = hold(&app.database_url).await;
    let alice: String = sqlx::query("SELECT id FROM users WHERE username = 'alice'")
        .fetch_one(&mut side)
        .await
        .expect("alice")
        .try_get("id")
        .expect("id");
    side.execute("BEGIN").await.expect("begin");
    sqlx::query(
        "INSERT INTO idempotency_keys (user_id, idempotency_key, endpoint, fingerprint, response_status, \
         response_body, created_at, expires_at) VALUES ($1, 'k', 'elsewhere', '{}', 0, '', 0, 9223372036854775807)",
    )
    .bind(alice)
    .execute(&mut side)
    .await
    .expect("hold the key");

    let held = app.create_conversation(&token, "k", &body).await;
    assert_eq!(held.status(), StatusCode::CONFLICT);
    assert_eq!(held.headers()["retry-after"], "1");

    side.execute("ROLLBACK").await.expect("release");
    let retry = app.create_conversation(&token, "k", &body).await;
    assert_eq!(retry.status(), StatusCode::CREATED);
    assert_eq!(app.count("SELECT COUNT(*) FROM conversations").await, 1);
}
