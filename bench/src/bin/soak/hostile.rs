//! The `hostile` scenario's attackers, beside the storm while the faults are on:
//! connections that send nothing, half-open requests whose headers never end, HTTP/2
//! prefaces followed by silence, bodies trickled a byte at a time, and a flood of
//! sign-ins with made-up names from many addresses (127.0.0.0/8 is all local). Each
//! attacker reconnects as soon as the server cuts it off, so the pressure stays on.

use crate::Faults;
use serde::Serialize;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::task::JoinSet;

/// One kind of slow attacker: how many run at once, what each sends on connecting, and
/// what it then sends every half second (or nothing).
struct Slow {
    count: usize,
    opening: &'static [u8],
    trickle: Option<&'static [u8]>,
}

const SLOW: [Slow; 4] = [
    // Connected, silent.
    Slow {
        count: 200,
        opening: b"",
        trickle: None,
    },
    // Headers that never end.
    Slow {
        count: 100,
        opening: b"GET /healthz HTTP/1.1\r\nHost: soak\r\n",
        trickle: Some(b"X-Slow: 1\r\n"),
    },
    // The HTTP/2 preface and an empty SETTINGS frame, then silence.
    Slow {
        count: 50,
        opening: b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0\0\x04\0\0\0\0\0",
        trickle: None,
    },
    // A body a byte at a time.
    Slow {
        count: 50,
        opening: b"POST /api/session HTTP/1.1\r\nHost: soak\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n",
        trickle: Some(b" "),
    },
];

const SIGN_IN_FLOODERS: usize = 8;

/// What the attackers did, and what the server answered the sign-in flood.
#[derive(Default, Serialize)]
pub struct Attack {
    /// Connections opened by the slow attackers (each cut off, then opened again).
    pub connections: AtomicU64,
    pub sign_ins: AtomicU64,
    pub sign_ins_limited_429: AtomicU64,
    pub sign_ins_unavailable_503: AtomicU64,
    /// Anything else than 401, 429 or 503 to a made-up sign-in (a 5xx, a dropped
    /// connection): each is a failure.
    pub sign_ins_unexpected: AtomicU64,
}

fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

/// Runs every attacker against `port` until the faults go off.
pub async fn run(port: u16, faults: Faults, attack: Arc<Attack>) {
    let server = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let mut attackers = JoinSet::new();
    for slow in &SLOW {
        for _ in 0..slow.count {
            let (faults, attack) = (faults.clone(), attack.clone());
            attackers.spawn(slow_client(
                server,
                slow.opening,
                slow.trickle,
                faults,
                attack,
            ));
        }
    }
    for flooder in 0..SIGN_IN_FLOODERS {
        let (faults, attack) = (faults.clone(), attack.clone());
        attackers.spawn(flood_sign_in(port, flooder, faults, attack));
    }
    attackers.join_all().await;
}

/// Opens a connection, sends `opening`, then `trickle` every half second (or nothing)
/// until the server closes it; again and again while the faults are on.
async fn slow_client(
    server: SocketAddr,
    opening: &'static [u8],
    trickle: Option<&'static [u8]>,
    faults: Faults,
    attack: Arc<Attack>,
) {
    while faults.on() {
        let Ok(mut stream) = TcpStream::connect(server).await else {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        bump(&attack.connections);
        if stream.write_all(opening).await.is_err() {
            continue;
        }
        let mut buffer = [0u8; 1024];
        while faults.on() {
            let read = tokio::time::timeout(Duration::from_millis(500), stream.read(&mut buffer));
            match read.await {
                // Closed, or answered (a 408): the server is done with this one.
                Ok(Ok(0) | Err(_)) => break,
                Ok(Ok(_)) => {}
                Err(_) => {
                    if let Some(bytes) = trickle
                        && stream.write_all(bytes).await.is_err()
                    {
                        break;
                    }
                }
            }
        }
    }
}

/// Made-up usernames, 20 a second per flooder, each attempt from the next of its 31
/// loopback addresses.
async fn flood_sign_in(port: u16, flooder: usize, faults: Faults, attack: Arc<Attack>) {
    let clients: Vec<reqwest::Client> = (0..31u8)
        .filter_map(|n| {
            let address = IpAddr::from([127, 0, 1 + flooder as u8, 2 + n]);
            reqwest::Client::builder()
                .local_address(address)
                .timeout(Duration::from_secs(10))
                .build()
                .ok()
        })
        .collect();
    let url = format!("http://127.0.0.1:{port}/api/session");
    let mut n = 0usize;
    while faults.on() {
        let client = &clients[n % clients.len()];
        n += 1;
        let body =
            serde_json::json!({ "username": format!("nobody-{flooder}-{n}"), "password": "guess" });
        bump(&attack.sign_ins);
        match client
            .post(&url)
            .json(&body)
            .send()
            .await
            .map(|r| r.status().as_u16())
        {
            Ok(401) => {}
            Ok(429) => bump(&attack.sign_ins_limited_429),
            Ok(503) => bump(&attack.sign_ins_unavailable_503),
            _ => bump(&attack.sign_ins_unexpected),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
