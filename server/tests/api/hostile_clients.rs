//! Clients that attack the transport: floods of headers and clients too slow to finish
//! theirs (slowloris). Each is refused or cut off, and everyone else is still served.

use crate::helpers::{Store, TestApp, spawn_app};
use futures_util::future::join_all;
use reqwest::StatusCode;
use server::http::HEADER_READ_TIMEOUT;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn connect(app: &TestApp) -> TcpStream {
    let address = app.address.trim_start_matches("http://");
    TcpStream::connect(address).await.expect("connect")
}

/// Sends `request` as is and returns the status line of the answer.
async fn status_line(app: &TestApp, request: &[u8]) -> String {
    let mut stream = connect(app).await;
    // The server may answer and close before reading it all; that is its right.
    let _ = stream.write_all(request).await;
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer)).await;
    String::from_utf8_lossy(&answer)
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned()
}

async fn still_serves_others(app: &TestApp) {
    let token = app.sign_in("alice").await;
    let response = app.get(&token, "/api/messages/conversations").await;
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn header_floods_are_refused_with_431_and_others_are_served() {
    let app = spawn_app(Store::Sqlite).await;
    let many: String = (0..500).map(|n| format!("X-Flood-{n}: {n}\r\n")).collect();
    let huge = format!("X-Huge: {}\r\n", "a".repeat(1024 * 1024));
    for headers in [many, huge] {
        let request = format!("GET /healthz HTTP/1.1\r\nHost: localhost\r\n{headers}\r\n");
        let floods = join_all((0..20).map(|_| status_line(&app, request.as_bytes()))).await;
        for status in floods {
            assert!(status.starts_with("HTTP/1.1 431"), "{status:?}");
        }
        still_serves_others(&app).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_too_slow_to_send_their_headers_are_cut_off_and_others_are_served() {
    let app = spawn_app(Store::Sqlite).await;
    let mut slow = Vec::new();
    for _ in 0..100 {
        let mut stream = connect(&app).await;
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n")
            .await
            .expect("write");
        slow.push(stream);
    }
    // One more header line each, four times a second, never the end of the headers, for
    // up to twice the timeout; a write fails once the server has closed the connection.
    let give_up = tokio::time::Instant::now() + HEADER_READ_TIMEOUT * 2;
    let trickle = tokio::spawn(async move {
        for round in 0.. {
            let mut open = Vec::new();
            for mut stream in slow {
                let line = format!("X-Slow-{round}: 1\r\n");
                if stream.write_all(line.as_bytes()).await.is_ok() {
                    open.push(stream);
                }
            }
            slow = open;
            if slow.is_empty() || tokio::time::Instant::now() > give_up {
                break;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        slow.len()
    });
    still_serves_others(&app).await;
    let still_open = trickle.await.expect("trickle");
    assert_eq!(
        still_open, 0,
        "slow clients still connected after twice the header read timeout"
    );
    still_serves_others(&app).await;
}
