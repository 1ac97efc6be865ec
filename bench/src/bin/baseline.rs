//! What the product is measured against, in the same run on the same machine:
//!
//! - `baseline serve ADDR SQLITE_FILE`: `GET /json` answers a small JSON body (the HTTP
//!   ceiling here); `POST /insert` inserts one row into SQLite in WAL mode with the
//!   product's durability (`synchronous = FULL`) and answers 202 (the storage ceiling).
//! - `baseline serve-postgres ADDR DATABASE_URL`: the same two routes, `POST /insert`
//!   into PostgreSQL with the product's durability there (the server's default
//!   `synchronous_commit = on`) and the product's pool size: its storage ceiling.
//! - `baseline seed-agencies DATABASE_URL COUNT`: adds agencies with predictable ids
//!   (`00000000-0000-4000-8000-<n, 12 digits>`) to the product's database, so a load
//!   script can create a new conversation on every request.
//! - `baseline seed-users DATABASE_URL COUNT`: adds users `bench-user-<n>` with the demo
//!   password, for loads that need many people (each may hold a few live streams).
//! - `baseline delay-proxy ADDR TARGET MILLISECONDS`: forwards each TCP connection made to
//!   ADDR to TARGET, every byte delayed that long in each direction: PostgreSQL as if it
//!   ran on another host (`tc netem` needs a kernel module and root; this needs neither).

use anyhow::{Context, bail};
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{MethodRouter, get, post};
use axum::{Json, Router};
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{AnyPool, SqlitePool};
use std::io::{Read, Write};
use std::str::FromStr;
use std::time::Duration;

// The product's allocator, so the ratios compare the work done, not the allocators.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["serve", addr, file] => serve(addr, file).await,
        ["serve-postgres", addr, url] => serve_postgres(addr, url).await,
        ["seed-agencies", url, count] => seed_agencies(url, count.parse()?).await,
        ["seed-users", url, count] => seed_users(url, count.parse()?).await,
        ["delay-proxy", addr, target, ms] => {
            delay_proxy(
                addr,
                target,
                Duration::from_secs_f64(ms.parse::<f64>()? / 1e3),
            )
            .await
        }
        _ => bail!(
            "usage: baseline serve ADDR SQLITE_FILE | baseline serve-postgres ADDR DATABASE_URL | baseline seed-agencies DATABASE_URL COUNT | baseline seed-users DATABASE_URL COUNT | baseline delay-proxy ADDR TARGET MILLISECONDS"
        ),
    }
}

async fn serve(addr: &str, file: &str) -> anyhow::Result<()> {
    let options = SqliteConnectOptions::from_str(&format!("sqlite://{file}"))?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full)
        .busy_timeout(Duration::from_secs(10));
    // The same pool size as the product's SQLite pool.
    let pool = SqlitePoolOptions::new()
        .max_connections(8)
        .connect_with(options)
        .await?;
    sqlx::query(CREATE_ROWS).execute(&pool).await?;
    serve_routes(addr, post(insert), pool).await
}

async fn serve_postgres(addr: &str, url: &str) -> anyhow::Result<()> {
    // The same pool size as the product's PostgreSQL pool, and like it no ping before
    // each use (the product pings only a connection that sat idle, which none does here).
    let pool = PgPoolOptions::new()
        .max_connections(16)
        .test_before_acquire(false)
        .connect(url)
        .await?;
    sqlx::query(CREATE_ROWS).execute(&pool).await?;
    serve_routes(addr, post(insert_postgres), pool).await
}

/// The table each bare insert writes a row into.
const CREATE_ROWS: &str = "CREATE TABLE IF NOT EXISTS rows (id TEXT PRIMARY KEY, body TEXT NOT NULL, created_at BIGINT NOT NULL)";

/// `GET /json` and `POST /insert` (with `insert`) on `addr`, until the process ends.
async fn serve_routes<S: Clone + Send + Sync + 'static>(
    addr: &str,
    insert: MethodRouter<S>,
    state: S,
) -> anyhow::Result<()> {
    let app = Router::new()
        .route(
            "/json",
            get(|| async { Json(serde_json::json!({ "ok": true })) }),
        )
        .route("/insert", insert)
        .with_state(state);
    let listener = tokio::net::TcpListener::bind(addr).await?;
    axum::serve(listener, app).await?;
    Ok(())
}

async fn insert_postgres(State(pool): State<PgPool>, body: String) -> StatusCode {
    let id = uuid::Uuid::new_v4().to_string();
    let inserted = sqlx::query("INSERT INTO rows (id, body, created_at) VALUES ($1, $2, $3)")
        .bind(id)
        .bind(body)
        .bind(0_i64)
        .execute(&pool)
        .await;
    match inserted {
        Ok(_) => StatusCode::ACCEPTED,
        Err(_) => StatusCode::SERVICE_UNAVAILABLE,
    }
}

async fn insert(State(pool): State<SqlitePool>, body: String) -> StatusCode {
    let id = uuid::Uuid::new_v4().to_string();
    let inserted = sqlx::query("INSERT INTO rows (id, body, created_at) VALUES (?, ?, ?)")
        .bind(id)
        .bind(body)
        .bind(0_i64)
        .execute(&pool)
        .await;
    match inserted {
        Ok(_) => StatusCode::ACCEPTED,
        Err(_) => StatusCode::SERVICE_UNAVAILABLE,
    }
}

async fn seed_agencies(url: &str, count: u32) -> anyhow::Result<()> {
    sqlx::any::install_default_drivers();
    let pool = AnyPool::connect(url).await.context("connect")?;
    messaging_bench::seed_agencies(&pool, count).await?;
    Ok(())
}

async fn seed_users(url: &str, count: u32) -> anyhow::Result<()> {
    sqlx::any::install_default_drivers();
    let pool = AnyPool::connect(url).await.context("connect")?;
    messaging_bench::seed_users(&pool, count).await?;
    Ok(())
}

/// Threads, not tasks: tokio's timer ticks in milliseconds, which would add up to one to
/// each delay; a thread's sleep is precise to tens of microseconds. A bench has a few
/// dozen connections, so four threads each is fine.
async fn delay_proxy(addr: &str, target: &str, delay: Duration) -> anyhow::Result<()> {
    let listener = std::net::TcpListener::bind(addr)?;
    let target = target.to_owned();
    tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
        for client in listener.incoming() {
            let client = client?;
            let Ok(server) = std::net::TcpStream::connect(&target) else {
                continue;
            };
            for stream in [&client, &server] {
                stream.set_nodelay(true)?;
            }
            forward_late(client.try_clone()?, server.try_clone()?, delay);
            forward_late(server, client, delay);
        }
        Ok(())
    })
    .await?
}

/// Copies `from` to `to` on threads of their own, each chunk `delay` after it was read, in
/// order; at the end of `from`, `to`'s writing side is shut.
fn forward_late(mut from: std::net::TcpStream, mut to: std::net::TcpStream, delay: Duration) {
    // Bounded: a reader that runs ahead waits for the writer.
    let (chunks, due) = std::sync::mpsc::sync_channel::<(std::time::Instant, Vec<u8>)>(1_024);
    std::thread::spawn(move || {
        let mut buffer = vec![0; 64 * 1024];
        while let Ok(read @ 1..) = from.read(&mut buffer) {
            let chunk = (std::time::Instant::now() + delay, buffer[..read].to_vec());
            if chunks.send(chunk).is_err() {
                break;
            }
        }
    });
    std::thread::spawn(move || {
        for (at, chunk) in due {
            std::thread::sleep(at.saturating_duration_since(std::time::Instant::now()));
            if to.write_all(&chunk).is_err() {
                break;
            }
        }
        let _ = to.shutdown(std::net::Shutdown::Write);
    });
}
