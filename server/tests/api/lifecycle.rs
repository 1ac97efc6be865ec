use crate::helpers::{ServerProcess, Store, TestApp, execute, fresh_database, inquiry, spawn_app};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::process::Command;
use std::time::{Duration, Instant};

/// SIGTERM ends the process even while a live stream is open (streams are closed at
/// shutdown), and what was acknowledged before is still there on restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_shuts_down_gracefully_with_open_streams_and_keeps_acknowledged_data() {
    let (database_url, _dir) = fresh_database(Store::Sqlite).await;
    let mut process = ServerProcess::start(&database_url).await;
    let app = TestApp::at(process.address.clone(), database_url.clone());
    let token = app.sign_in("alice").await;
    let agency = app.agency_id("northwind").await;
    let created: Value = app
        .created(&token, "key-1", &inquiry(&agency, "Hello!", "m-1"))
        .await;
    let id = created["conversation"]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let stream = app
        .get(&token, &format!("/api/messages/conversations/{id}/stream"))
        .await;
    assert_eq!(stream.status(), StatusCode::OK);

    let status = Command::new("kill")
        .arg("-TERM")
        .arg(process.child.id().to_string())
        .status()
        .expect("kill");
    assert!(status.success());
    let started = Instant::now();
    let exit = loop {
        if let Some(exit) = process.child.try_wait().expect("wait") {
            break exit;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "server did not stop with a stream open"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(exit.success(), "{exit}");
    drop(stream);

    let restarted = ServerProcess::start(&database_url).await;
    let app = TestApp::at(restarted.address.clone(), database_url);
    let token = app.sign_in("alice").await;
    let replay = app
        .create_conversation(&token, "key-1", &inquiry(&agency, "Hello!", "m-1"))
        .await;
    assert_eq!(replay.headers()["idempotent-replayed"], "true");
    let replay: Value = replay.json().await.expect("json");
    assert_eq!(replay["conversation"]["id"], id.as_str());
}

/// Each connection holds a descriptor: the process raises its open-file soft limit to the
/// hard limit as it starts, whatever soft limit it was started with.
#[tokio::test]
async fn the_server_raises_its_open_file_limit_to_the_hard_limit() {
    let (database_url, _dir) = fresh_database(Store::Sqlite).await;
    let process = ServerProcess::start_with_soft_file_limit(&database_url, 256).await;
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", process.child.id()))
        .expect("the process's limits");
    let open_files: Vec<&str> = limits
        .lines()
        .find(|line| line.starts_with("Max open files"))
        .expect("a line for open files")
        .split_whitespace()
        .collect();
    let (soft, hard) = (open_files[3], open_files[4]);
    assert_eq!(soft, hard, "{limits}");
    assert_ne!(soft, "256", "{limits}");
}

/// PostgreSQL dropped every connection of the server's pools while they sat idle (a
/// restart, a proxy's idle timeout): the next requests are answered over new connections,
/// none of them handed a dead one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_postgresql_dropped_while_idle_are_replaced_before_use() {
    let app = spawn_app(Store::Postgres).await;
    let (alice, id) = app.alice_asks_northwind().await;
    execute(
        &app.database_url,
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = current_database() AND pid <> pg_backend_pid()",
    )
    .await;
    // Longer than the pools use a connection unchecked after it came back.
    tokio::time::sleep(Duration::from_millis(1_500)).await;

    for n in 1..=3 {
        let body = json!({ "conversation_id": id, "text": "Still here?", "local_id": format!("after-{n}") });
        assert_eq!(app.chat(&alice, &body).await.status(), StatusCode::ACCEPTED);
    }
    let carol = app.sign_in("carol").await;
    let page = app
        .get(
            &carol,
            &format!("/api/messages/conversations/{id}/messages"),
        )
        .await;
    assert_eq!(page.status(), StatusCode::OK);
}
