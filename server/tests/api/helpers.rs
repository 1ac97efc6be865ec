//! A real server on a free port with a fresh database, SQLite or PostgreSQL.

use reqwest::{Response, StatusCode};
use serde_json::{Value, json};
use server::config::Config;
use server::startup::Application;
use sqlx::Row;
use sqlx::any::AnyPoolOptions;
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use tempfile::TempDir;
use uuid::Uuid;

#[derive(Clone, Copy, Debug)]
pub enum Store {
    Sqlite,
    Postgres,
}

pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub database_url: String,
    _data_dir: Option<TempDir>,
}

/// A fresh database URL: a new SQLite file, or a new database on the test PostgreSQL.
pub async fn fresh_database(store: Store) -> (String, Option<TempDir>) {
    match store {
        Store::Sqlite => {
            let dir = tempfile::tempdir().expect("temp dir");
            let url = format!("sqlite://{}/test.db?mode=rwc", dir.path().display());
            (url, Some(dir))
        }
        Store::Postgres => {
            let admin = std::env::var("TEST_POSTGRES_URL").expect(
                "TEST_POSTGRES_URL is not set: run scripts/test, which starts a PostgreSQL server for the tests",
            );
            sqlx::any::install_default_drivers();
            let pool = AnyPoolOptions::new()
                .max_connections(1)
                .connect(&admin)
                .await
                .expect("test PostgreSQL");
            let name = format!("test_{}", Uuid::new_v4().simple());
            sqlx::query(&format!("CREATE DATABASE {name}"))
                .execute(&pool)
                .await
                .expect("create database");
            pool.close().await;
            let base = admin
                .rsplit_once('/')
                .map_or(admin.as_str(), |(base, _)| base);
            (format!("{base}/{name}"), None)
        }
    }
}

pub async fn spawn_app(store: Store) -> TestApp {
    let (database_url, data_dir) = fresh_database(store).await;
    spawn_app_on(database_url, data_dir, |_| {}).await
}

/// Spawns a server on an existing database, with config tweaks.
pub async fn spawn_app_on(
    database_url: String,
    data_dir: Option<TempDir>,
    configure: impl FnOnce(&mut Config),
) -> TestApp {
    // Logs only when asked (TEST_LOG=1), so test output stays readable.
    if std::env::var_os("TEST_LOG").is_some() {
        server::telemetry::init();
    }
    let mut config = Config::from_env().expect("config");
    config.site_addr = "127.0.0.1:0".parse().expect("addr");
    config.database_url = database_url.clone();
    config.seed_demo_data = true;
    configure(&mut config);
    let application = Application::build(config)
        .await
        .expect("application starts");
    let address = format!("http://{}", application.local_addr());
    tokio::spawn(application.run_until_stopped());
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client");
    TestApp {
        address,
        client,
        database_url,
        _data_dir: data_dir,
    }
}

impl TestApp {
    /// A client for a server running elsewhere (another process) on `database_url`.
    pub fn at(address: String, database_url: String) -> Self {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .expect("client");
        Self {
            address,
            client,
            database_url,
            _data_dir: None,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub async fn sign_in(&self, username: &str) -> String {
        let response = self
            .client
            .post(self.url("/api/session"))
            .json(&json!({ "username": username, "password": "demo-password" }))
            .send()
            .await
            .expect("sign-in request");
        assert_eq!(response.status(), StatusCode::OK, "sign-in of {username}");
        let body: Value = response.json().await.expect("json");
        body["token"].as_str().expect("token").to_owned()
    }

    pub async fn agency_id(&self, slug: &str) -> String {
        let body: Value = self
            .client
            .get(self.url(&format!("/api/agencies/{slug}")))
            .send()
            .await
            .expect("agency")
            .json()
            .await
            .expect("json");
        body["id"].as_str().expect("agency id").to_owned()
    }

    pub async fn create_conversation(&self, token: &str, key: &str, body: &Value) -> Response {
        self.client
            .post(self.url("/api/messages/conversations"))
            .bearer_auth(token)
            .header("Idempotency-Key", key)
            .json(body)
            .send()
            .await
            .expect("create request")
    }

    /// Creates (or merges, or replays) and returns the answer's body.
    /// Alice asks Northwind "Hello!" (`local_id` `m-0`): her token and the conversation's id.
    pub async fn alice_asks_northwind(&self) -> (String, String) {
        let token = self.sign_in("alice").await;
        let agency = self.agency_id("northwind").await;
        let created = self
            .created(&token, "key-1", &inquiry(&agency, "Hello!", "m-0"))
            .await;
        let id = created["conversation"]["id"]
            .as_str()
            .expect("id")
            .to_owned();
        (token, id)
    }

    pub async fn created(&self, token: &str, key: &str, body: &Value) -> Value {
        self.create_conversation(token, key, body)
            .await
            .json()
            .await
            .expect("json")
    }

    pub async fn chat(&self, token: &str, body: &Value) -> Response {
        self.client
            .post(self.url("/api/chat"))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .expect("chat request")
    }

    /// Signs the session out (`DELETE /api/session`), asserting the 204.
    pub async fn sign_out(&self, token: &str) {
        let out = self
            .client
            .delete(self.url("/api/session"))
            .bearer_auth(token)
            .send()
            .await
            .expect("sign out");
        assert_eq!(out.status(), StatusCode::NO_CONTENT);
    }

    pub async fn get(&self, token: &str, path: &str) -> Response {
        self.client
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .expect("get request")
    }

    /// The process's Prometheus text (`/metrics`).
    pub async fn metrics(&self) -> String {
        self.client
            .get(self.url("/metrics"))
            .send()
            .await
            .expect("metrics")
            .text()
            .await
            .expect("text")
    }

    /// Counts rows straight from the database: the audits trust no API answer.
    pub async fn count(&self, sql: &str) -> i64 {
        count_rows(&self.database_url, sql).await
    }
}

/// Runs a statement on the app's store behind its back (an operator's change).
pub async fn execute(database_url: &str, sql: &str) {
    sqlx::any::install_default_drivers();
    let pool = AnyPoolOptions::new()
        .max_connections(1)
        .connect(database_url)
        .await
        .expect("operator connection");
    sqlx::query(sql).execute(&pool).await.expect("statement");
    pool.close().await;
}

/// The next event a live stream carries, as (event, data), waiting up to `within`;
/// keep-alive comments are skipped. `None` when the stream ends first.
pub async fn next_event(
    body: &mut (impl futures_util::Stream<Item = reqwest::Result<bytes::Bytes>> + Unpin),
    buffered: &mut String,
    within: Duration,
) -> Option<(String, String)> {
    next_event_with_id(body, buffered, within)
        .await
        .map(|(event, data, _)| (event, data))
}

/// [`next_event`], with the event's `id` (empty when it has none).
pub async fn next_event_with_id(
    body: &mut (impl futures_util::Stream<Item = reqwest::Result<bytes::Bytes>> + Unpin),
    buffered: &mut String,
    within: Duration,
) -> Option<(String, String, String)> {
    use futures_util::StreamExt;
    let deadline = tokio::time::Instant::now() + within;
    loop {
        while let Some((event, rest)) = buffered.split_once("\n\n") {
            let (event, rest) = (event.to_owned(), rest.to_owned());
            *buffered = rest;
            let field = |name: &str| {
                event
                    .lines()
                    .find_map(|line| line.strip_prefix(name))
                    .map(str::to_owned)
            };
            if let Some(name) = field("event: ") {
                let data = field("data: ").unwrap_or_default();
                return Some((name, data, field("id: ").unwrap_or_default()));
            }
        }
        let chunk = tokio::time::timeout_at(deadline, body.next())
            .await
            .expect("an event in time")?
            .expect("chunk");
        buffered.push_str(&String::from_utf8_lossy(&chunk));
    }
}

pub async fn count_rows(database_url: &str, sql: &str) -> i64 {
    sqlx::any::install_default_drivers();
    let pool = AnyPoolOptions::new()
        .max_connections(1)
        .connect(database_url)
        .await
        .expect("audit connection");
    let n: i64 = sqlx::query(sql)
        .fetch_one(&pool)
        .await
        .expect("audit query")
        .try_get(0)
        .expect("count");
    pool.close().await;
    n
}

/// A transaction of the test's own on the database, begun: what it writes or locks holds
/// the server's writers back until the test commits or rolls it back.
pub async fn open_transaction(database_url: &str) -> sqlx::AnyConnection {
    use sqlx::{Connection, Executor};
    sqlx::any::install_default_drivers();
    let mut connection = sqlx::AnyConnection::connect(database_url)
        .await
        .expect("the test's connection");
    connection.execute("BEGIN").await.expect("BEGIN");
    connection
}

/// A create body for the agency inquiry.
pub fn inquiry(agency_id: &str, text: &str, local_id: &str) -> Value {
    json!({
        "context_type": "agency_inquiry",
        "context_id": agency_id,
        "initial_message": { "text": text, "local_id": local_id }
    })
}

pub async fn problem(response: Response) -> (StatusCode, Value) {
    let status = response.status();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert_eq!(content_type, "application/problem+json", "status {status}");
    (status, response.json().await.expect("problem json"))
}

/// Generates one test per store from `async fn name(app: TestApp)`.
#[macro_export]
macro_rules! on_both_stores {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::helpers::spawn_app($crate::helpers::Store::Sqlite).await).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::helpers::spawn_app($crate::helpers::Store::Postgres).await).await;
                }
            )*
        }
    };
}

/// A server process of our own binary, killed when dropped.
pub struct ServerProcess {
    pub child: Child,
    pub address: String,
}

impl ServerProcess {
    pub async fn start(database_url: &str) -> Self {
        Self::start_as(Command::new(env!("CARGO_BIN_EXE_server")), database_url).await
    }

    /// The server started with extra environment variables (`FAILPOINTS`, say).
    pub async fn start_with_env(database_url: &str, vars: &[(&str, &str)]) -> Self {
        let mut command = Command::new(env!("CARGO_BIN_EXE_server"));
        command.envs(vars.iter().copied());
        Self::start_as(command, database_url).await
    }

    /// The server started with its open-file soft limit lowered to `soft` first.
    pub async fn start_with_soft_file_limit(database_url: &str, soft: u64) -> Self {
        let mut command = Command::new("sh");
        command
            .arg("-c")
            .arg(format!("ulimit -Sn {soft} && exec \"$0\""))
            .arg(env!("CARGO_BIN_EXE_server"));
        Self::start_as(command, database_url).await
    }

    async fn start_as(mut command: Command, database_url: &str) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .expect("port")
            .local_addr()
            .expect("addr")
            .port();
        let child = command
            .env("DATABASE_URL", database_url)
            .env("LEPTOS_SITE_ADDR", format!("127.0.0.1:{port}"))
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .spawn()
            .expect("server process starts");
        let process = Self {
            child,
            address: format!("http://127.0.0.1:{port}"),
        };
        for _ in 0..300 {
            if reqwest::get(format!("{}/healthz", process.address))
                .await
                .is_ok_and(|r| r.status().is_success())
            {
                return process;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("server process did not become healthy");
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The `local_id`s of the first `count` messages a live stream carries, waiting up to
/// 10 s; other events (`lagged`, keep-alives) are skipped.
pub async fn streamed_local_ids(stream: Response, count: usize) -> Vec<String> {
    use futures_util::StreamExt;
    let mut body = stream.bytes_stream();
    let mut received = String::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while received.matches("event: message").count() < count {
        let chunk = tokio::time::timeout_at(deadline, body.next())
            .await
            .expect("events in time")
            .expect("stream open")
            .expect("chunk");
        received.push_str(&String::from_utf8_lossy(&chunk));
    }
    received
        .split("\n\n")
        .filter(|event| event.lines().any(|line| line == "event: message"))
        .filter_map(|event| event.lines().find_map(|line| line.strip_prefix("data: ")))
        .map(|data| serde_json::from_str::<Value>(data).expect("message JSON"))
        .map(|message| message["local_id"].as_str().expect("local_id").to_owned())
        .take(count)
        .collect()
}
