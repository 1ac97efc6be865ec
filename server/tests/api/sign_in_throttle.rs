//! Sign-in floods: limited per address and per (username, address), never per username
//! alone, and argon2 work bounded. The throttle lives in memory, whatever the store.
//! Clients come from distinct loopback addresses (127.0.0.0/8 is all local on Linux), or
//! through a trusted proxy's `X-Forwarded-For`.

use crate::helpers::{Store, TestApp, fresh_database, spawn_app, spawn_app_on};
use futures_util::future::join_all;
use reqwest::StatusCode;
use serde_json::json;
use std::net::IpAddr;

/// A client whose connections come from `address`.
fn client_from(address: [u8; 4]) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(IpAddr::from(address))
        .build()
        .expect("client")
}

async fn attempt(
    app: &TestApp,
    client: &reqwest::Client,
    forwarded_for: Option<&str>,
    username: &str,
    password: &str,
) -> reqwest::Response {
    let mut request = client
        .post(app.url("/api/session"))
        .json(&json!({ "username": username, "password": password }));
    if let Some(address) = forwarded_for {
        request = request.header("x-forwarded-for", address);
    }
    request.send().await.expect("request")
}

#[tokio::test]
async fn hammering_a_username_from_one_address_does_not_lock_it_out_from_another() {
    let app = spawn_app(Store::Sqlite).await;
    let attacker = client_from([127, 0, 0, 2]);
    let mut statuses = Vec::new();
    for _ in 0..8 {
        statuses.push(
            attempt(&app, &attacker, None, "ALICE ", "guess")
                .await
                .status(),
        );
    }
    assert_eq!(statuses[..5], [StatusCode::UNAUTHORIZED; 5]);
    assert_eq!(statuses[5..], [StatusCode::TOO_MANY_REQUESTS; 3]);
    // Alice, elsewhere, with her password.
    let alice = client_from([127, 0, 0, 3]);
    let response = attempt(&app, &alice, None, "alice", "demo-password").await;
    assert_eq!(response.status(), StatusCode::OK);
}

/// Guesses sent at once: each takes its place in the count before its password is
/// checked, so no more than the limit are checked, however many arrive together.
#[tokio::test]
async fn guesses_sent_at_once_are_limited_as_guesses_sent_one_by_one() {
    let app = spawn_app(Store::Sqlite).await;
    let attacker = client_from([127, 0, 0, 6]);
    let statuses = join_all((0..12).map(|_| attempt(&app, &attacker, None, "alice", "guess")))
        .await
        .into_iter()
        .map(|response| response.status())
        .collect::<Vec<_>>();
    let checked = statuses
        .iter()
        .filter(|&&status| status == StatusCode::UNAUTHORIZED)
        .count();
    assert_eq!(checked, 5, "{statuses:?}");
    assert!(
        statuses.iter().all(|&status| matches!(
            status,
            StatusCode::UNAUTHORIZED
                | StatusCode::TOO_MANY_REQUESTS
                | StatusCode::SERVICE_UNAVAILABLE
        )),
        "{statuses:?}"
    );
}

#[tokio::test]
async fn one_address_trying_many_usernames_is_limited() {
    let app = spawn_app(Store::Sqlite).await;
    let attacker = client_from([127, 0, 0, 4]);
    let mut limited = 0;
    for n in 0..32 {
        let response = attempt(&app, &attacker, None, &format!("made-up-{n}"), "x").await;
        if response.status() == StatusCode::TOO_MANY_REQUESTS {
            assert!(response.headers().contains_key("retry-after"));
            limited += 1;
        }
    }
    assert_eq!(limited, 2, "30 attempts a minute from one address");
}

#[tokio::test]
async fn a_forwarding_header_counts_only_behind_a_trusted_proxy() {
    // Not configured: the header is the client's to forge, and changes nothing.
    let app = spawn_app(Store::Sqlite).await;
    let client = client_from([127, 0, 0, 5]);
    for n in 0..5 {
        let forged = format!("198.51.100.{n}");
        attempt(&app, &client, Some(&forged), "bob", "guess").await;
    }
    let response = attempt(&app, &client, Some("198.51.100.99"), "bob", "demo-password").await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);

    // Behind a proxy that sets it: each forwarded address is its own origin.
    let (database_url, data_dir) = fresh_database(Store::Sqlite).await;
    let app = spawn_app_on(database_url, data_dir, |config| {
        config.client_ip_source = "RightmostXForwardedFor".parse().expect("a source");
    })
    .await;
    let proxy = client_from([127, 0, 0, 6]);
    for _ in 0..6 {
        attempt(&app, &proxy, Some("198.51.100.1"), "bob", "guess").await;
    }
    let limited = attempt(&app, &proxy, Some("198.51.100.1"), "bob", "demo-password").await;
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
    let elsewhere = attempt(&app, &proxy, Some("198.51.100.2"), "bob", "demo-password").await;
    assert_eq!(elsewhere.status(), StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sign_in_flood_gets_503_past_the_password_check_queue_and_nothing_else_waits() {
    // Each made-up name comes from an address of its own (through the trusted proxy
    // header), so no rate limit applies: only the bound on argon2 work does.
    let (database_url, data_dir) = fresh_database(Store::Sqlite).await;
    let app = spawn_app_on(database_url, data_dir, |config| {
        config.client_ip_source = "RightmostXForwardedFor".parse().expect("a source");
    })
    .await;
    let token = app.sign_in("alice").await;
    let flood = join_all((0..300u32).map(|n| {
        let forwarded = format!("10.0.{}.{}", n / 250, n % 250 + 1);
        let app = &app;
        async move {
            let response = attempt(app, &app.client, Some(&forwarded), &format!("x{n}"), "x").await;
            let retry_after = response.headers().contains_key("retry-after");
            (response.status(), retry_after)
        }
    }));
    let others = async {
        // Meanwhile a signed-in reader and the health check are answered.
        let list = app.get(&token, "/api/messages/conversations").await;
        let health = app
            .client
            .get(app.url("/healthz"))
            .send()
            .await
            .expect("request");
        (list.status(), health.status())
    };
    let (flood, others) = tokio::join!(flood, others);
    assert_eq!(others, (StatusCode::OK, StatusCode::OK));
    let unavailable = flood
        .iter()
        .filter(|(status, _)| *status == StatusCode::SERVICE_UNAVAILABLE)
        .count();
    assert!(unavailable > 0, "300 sign-ins at once were all checked");
    for (status, retry_after) in &flood {
        match *status {
            StatusCode::UNAUTHORIZED => {}
            StatusCode::SERVICE_UNAVAILABLE => assert!(retry_after),
            other => panic!("a flooded sign-in got {other}"),
        }
    }
}
