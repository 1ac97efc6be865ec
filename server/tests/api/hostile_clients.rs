//! Clients that attack the transport: floods of headers, clients too slow to finish
//! theirs (slowloris) or their body, connections that send nothing, more connections than
//! the server takes. Each is refused or cut off, and everyone else is still served.

use crate::helpers::{Store, TestApp, fresh_database, spawn_app, spawn_app_on};
use futures_util::future::join_all;
use reqwest::StatusCode;
use server::config::Config;
use server::connections::ConnectionLimits;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The limits of the servers below that test them, short so the tests can wait them out.
const SHORT: Duration = Duration::from_secs(2);

/// How long the server may take to close a connection it has given up on: an HTTP/2
/// peer that does not acknowledge the GOAWAY is dropped after five seconds.
const CLOSING: Duration = Duration::from_secs(8);

async fn spawn_with_short_limits(configure: impl FnOnce(&mut Config)) -> TestApp {
    let (database_url, data_dir) = fresh_database(Store::Sqlite).await;
    spawn_app_on(database_url, data_dir, |config| {
        config.connection_limits.header_read = SHORT;
        config.connection_limits.idle = SHORT;
        config.request_timeout = SHORT;
        configure(config);
    })
    .await
}

/// Whether the server ends `stream` (end of stream or reset) within `within`.
async fn closed_within(mut stream: TcpStream, within: Duration) -> bool {
    let mut ignored = Vec::new();
    tokio::time::timeout(within, stream.read_to_end(&mut ignored))
        .await
        .is_ok()
}

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
    let give_up = tokio::time::Instant::now() + ConnectionLimits::default().header_read * 2;
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_that_send_nothing_or_only_the_http2_preface_are_closed() {
    let app = spawn_with_short_limits(|_| {}).await;
    let mut silent = Vec::new();
    for _ in 0..20 {
        silent.push(connect(&app).await);
    }
    for _ in 0..5 {
        let mut stream = connect(&app).await;
        // The preface and an empty SETTINGS frame: an HTTP/2 client that then says nothing.
        stream
            .write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0\0\x04\0\0\0\0\0")
            .await
            .expect("write");
        silent.push(stream);
    }
    let closed = join_all(
        silent
            .into_iter()
            .map(|s| closed_within(s, SHORT + CLOSING)),
    )
    .await;
    assert!(closed.iter().all(|closed| *closed), "{closed:?}");
    still_serves_others(&app).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_http2_connections_are_closed_though_they_answer_pings() {
    use hyper_util::rt::TokioExecutor;
    let app = spawn_with_short_limits(|_| {}).await;
    let client = hyper::client::conn::http2::Builder::new(TokioExecutor::new());
    let (response, connection) = healthz_over_http2(&app, &client).await;
    drop(response);
    let ended = tokio::time::timeout(SHORT + CLOSING, connection).await;
    assert!(ended.is_ok(), "an idle HTTP/2 connection is still open");
}

/// `/healthz` over an HTTP/2 connection made by `client`: its answer (the head, at least)
/// and the connection's task. hyper's client answers the server's pings (and its GOAWAY's)
/// by itself.
async fn healthz_over_http2(
    app: &TestApp,
    client: &hyper::client::conn::http2::Builder<hyper_util::rt::TokioExecutor>,
) -> (
    http::Response<hyper::body::Incoming>,
    tokio::task::JoinHandle<hyper::Result<()>>,
) {
    let stream = connect(app).await;
    let (mut sender, connection) = client
        .handshake(hyper_util::rt::TokioIo::new(stream))
        .await
        .expect("HTTP/2 handshake");
    let connection = tokio::spawn(connection);
    let request = http::Request::get(app.url("/healthz"))
        .body(http_body_util::Empty::<bytes::Bytes>::new())
        .expect("request");
    let response = sender.send_request(request).await.expect("an answer");
    assert_eq!(response.status(), StatusCode::OK);
    (response, connection)
}

/// One HTTP/2 connection may have 100 requests in flight, not hyper's 200, and send no
/// more of a body than 64 KiB ahead of the server's reading.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_http2_connection_may_have_100_requests_in_flight_and_64_kib_unread_each() {
    let app = spawn_app(Store::Sqlite).await;
    let (client, connection) = h2::client::handshake(connect(&app).await)
        .await
        .expect("HTTP/2 handshake");
    tokio::spawn(connection);
    let mut client = client.ready().await.expect("ready");
    // Answered, so the server's settings have come (they are its first frame).
    let request = http::Request::get(app.url("/healthz"))
        .body(())
        .expect("request");
    let (response, _) = client.send_request(request, true).expect("sent");
    assert_eq!(response.await.expect("answer").status(), StatusCode::OK);
    assert_eq!(client.current_max_send_streams(), 100);

    // A body may be sent up to 64 KiB before the server reads it (hyper's default: 1 MiB).
    let request = http::Request::post(app.url("/api/session"))
        .header("content-type", "application/json")
        .body(())
        .expect("request");
    let (_, mut body) = client.send_request(request, false).expect("sent");
    body.reserve_capacity(1 << 20);
    let granted = std::future::poll_fn(|cx| body.poll_capacity(cx)).await;
    assert_eq!(
        granted.map(|granted| granted.expect("capacity")),
        Some(65_536)
    );
}

/// A peer that takes no response (an HTTP/2 flow-control window of zero, while it answers
/// pings) would hold its connection, and a place under the cap, for ever.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_whose_peer_takes_no_response_is_closed() {
    use hyper_util::rt::TokioExecutor;
    let app = spawn_with_short_limits(|_| {}).await;
    let mut client = hyper::client::conn::http2::Builder::new(TokioExecutor::new());
    client.initial_stream_window_size(0).adaptive_window(false);
    // The head arrives (headers are not flow-controlled); the body cannot.
    let (response, connection) = healthz_over_http2(&app, &client).await;
    let ended = tokio::time::timeout(SHORT + CLOSING, connection).await;
    assert!(
        ended.is_ok(),
        "a connection that takes nothing is still open"
    );
    drop(response);
    still_serves_others(&app).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_trickled_a_byte_at_a_time_gets_408_within_the_request_timeout() {
    let app = spawn_with_short_limits(|_| {}).await;
    // The API's sign-in and the pages' server function: neither needs a session.
    for path in ["/api/session", "/_fn/sign_in"] {
        let (mut reader, mut writer) = connect(&app).await.into_split();
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n"
        );
        writer.write_all(head.as_bytes()).await.expect("write");
        // A byte every half second: 50 s for the whole body.
        let trickle = tokio::spawn(async move {
            for _ in 0..100 {
                if writer.write_all(b" ").await.is_err() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        });
        let mut answer = Vec::new();
        let read = tokio::time::timeout(SHORT * 3, reader.read_to_end(&mut answer)).await;
        trickle.abort();
        assert!(read.is_ok(), "{path}: no answer, connection still open");
        let answer = String::from_utf8_lossy(&answer);
        assert!(answer.starts_with("HTTP/1.1 408"), "{path}: {answer}");
        assert!(answer.contains("request_timeout"), "{path}: {answer}");
    }
    still_serves_others(&app).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_announced_over_the_limit_gets_413_without_waiting_for_it() {
    let app = spawn_app(Store::Sqlite).await;
    for path in ["/api/session", "/_fn/sign_in"] {
        // Ten megabytes announced, not a byte sent.
        let request = format!(
            "POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 10000000\r\n\r\n"
        );
        let status = tokio::time::timeout(SHORT * 2, status_line(&app, request.as_bytes()))
            .await
            .expect("an answer without the body");
        assert!(status.starts_with("HTTP/1.1 413"), "{path}: {status:?}");
    }
}

/// Clients that send most of a body and stall, on many connections, would hold memory
/// until their deadline, 64 KiB each: past the bound on what bodies being read may take
/// in all, a request gets 503 (retry later), and room comes back as they end.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_the_bound_on_bodies_in_memory_requests_get_503_until_room_comes_back() {
    use messaging_core::MAX_REQUEST_BODY_BYTES;
    const DEADLINE: Duration = Duration::from_secs(5);
    let app = spawn_with_short_limits(|config| {
        config.max_body_memory = MAX_REQUEST_BODY_BYTES;
        config.request_timeout = DEADLINE;
    })
    .await;
    let token = app.sign_in("alice").await;
    // Of a conversation that does not exist: a 404 when it is read, a 503 when not.
    let message = serde_json::json!({
        "conversation_id": "00000000-0000-4000-8000-000000000000",
        "text": "Hello",
        "local_id": "stalled-bodies",
    });
    let chat = || app.chat(&token, &message);
    assert_eq!(chat().await.status(), StatusCode::NOT_FOUND);

    // All but 36 bytes of the room, then nothing more.
    let mut stalled = connect(&app).await;
    let head = format!(
        "POST /api/session HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {MAX_REQUEST_BODY_BYTES}\r\n\r\n"
    );
    stalled.write_all(head.as_bytes()).await.expect("write");
    stalled
        .write_all(&vec![b' '; MAX_REQUEST_BODY_BYTES - 36])
        .await
        .expect("write");
    let mut refused = None;
    for _ in 0..100 {
        let response = chat().await;
        if response.status() == StatusCode::SERVICE_UNAVAILABLE {
            refused = Some(response);
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let refused = refused.expect("a 503 while a stalled body takes the room");
    assert_eq!(refused.headers()["retry-after"], "1");
    let (_, problem) = crate::helpers::problem(refused).await;
    assert_eq!(problem["code"], "unavailable");

    // The stalled request ends at its deadline (408): the room is back.
    assert!(
        closed_within(stalled, DEADLINE * 2).await,
        "the stalled body was not cut"
    );
    assert_eq!(chat().await.status(), StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_the_connection_cap_idle_connections_make_room_and_busy_ones_do_not() {
    const CAP: usize = 10;
    let app = spawn_with_short_limits(|config| {
        config.connection_limits.max_connections = CAP;
        config.connection_limits.header_read = Duration::from_secs(30);
        config.request_timeout = Duration::from_secs(30);
    })
    .await;

    // Idle: connected, nothing sent. A newcomer closes the longest idle and is served.
    let mut idle = Vec::new();
    for _ in 0..CAP {
        idle.push(connect(&app).await);
    }
    let healthz = app.client.get(app.url("/healthz")).send().await;
    assert_eq!(healthz.expect("served").status(), StatusCode::OK);
    let closed = join_all(idle.into_iter().map(|s| closed_within(s, SHORT))).await;
    assert!(
        closed.iter().any(|closed| *closed),
        "no idle connection made room"
    );

    // Busy: each waits for a body that does not come. A newcomer is turned away.
    let app = spawn_with_short_limits(|config| {
        config.connection_limits.max_connections = CAP;
        config.request_timeout = Duration::from_secs(30);
    })
    .await;
    let mut busy = Vec::new();
    for _ in 0..CAP {
        let mut stream = connect(&app).await;
        stream
            .write_all(b"POST /api/session HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 10\r\n\r\n")
            .await
            .expect("write");
        busy.push(stream);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let newcomer = connect(&app).await;
    assert!(
        closed_within(newcomer, SHORT).await,
        "a newcomer got in past the cap"
    );
    // One leaves; there is room again.
    drop(busy.pop());
    tokio::time::sleep(Duration::from_millis(500)).await;
    let healthz = app.client.get(app.url("/healthz")).send().await;
    assert_eq!(healthz.expect("served").status(), StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthz_answers_while_3000_idle_connections_are_open() {
    const IDLE: u64 = 3_000;
    // Both ends of every connection are descriptors of this process.
    let limit = rlimit::increase_nofile_limit(u64::MAX).expect("open-file limit");
    assert!(
        limit >= 2 * IDLE + 1_000,
        "the open-file limit ({limit}) is too low for this test"
    );
    let (database_url, data_dir) = fresh_database(Store::Sqlite).await;
    let app = spawn_app_on(database_url, data_dir, |config| {
        config.connection_limits.header_read = Duration::from_secs(60);
    })
    .await;
    let mut idle = Vec::new();
    for _ in 0..IDLE {
        idle.push(connect(&app).await);
    }
    let healthz = tokio::time::timeout(SHORT, app.client.get(app.url("/healthz")).send()).await;
    assert_eq!(
        healthz.expect("in time").expect("served").status(),
        StatusCode::OK
    );
    // They were all still open: none had to make room.
    let closed = join_all(
        idle.into_iter()
            .map(|s| closed_within(s, Duration::from_millis(1))),
    )
    .await;
    assert_eq!(closed.iter().filter(|closed| **closed).count(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raw_control_characters_in_paths_and_headers_get_an_answer_below_500() {
    let app = spawn_app(Store::Sqlite).await;
    let token = app.sign_in("alice").await;
    for code in (0u8..0x20).chain([0x7f]) {
        let c = char::from(code);
        for path in [
            "/conversations/",
            "/agencies/",
            "/api/agencies/",
            "/sign-in?next=/",
        ] {
            let raw = format!("GET {path}{c}x HTTP/1.1\r\nHost: localhost\r\n\r\n");
            let status = status_line(&app, raw.as_bytes()).await;
            assert_answered_below_500(&status, &format!("{code:#04x} in {path}"));
        }
        for header in ["User-Agent", "Cookie", "Authorization", "X-Anything"] {
            let value = match header {
                "Authorization" => format!("Bearer {token}{c}"),
                "Cookie" => format!("session={token}{c}"),
                _ => format!("a{c}b"),
            };
            let raw = format!(
                "GET /api/messages/conversations HTTP/1.1\r\nHost: localhost\r\n{header}: {value}\r\n\r\n"
            );
            let status = status_line(&app, raw.as_bytes()).await;
            assert_answered_below_500(&status, &format!("{code:#04x} in {header}"));
        }
    }
    still_serves_others(&app).await;
}

/// An answer came (the connection was not just dropped), and it is not a 5xx.
fn assert_answered_below_500(status_line: &str, what: &str) {
    let status: u16 = status_line
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("{what}: no answer ({status_line:?})"));
    assert!(status < 500, "{what}: {status_line}");
}
