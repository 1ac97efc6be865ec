//! A lossy network on loopback: a TCP proxy in front of one server process that, while
//! the faults are on, gives each connection a random fate. The client opens a new
//! connection per request, so a fate is a request's fate.

use crate::Faults;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream};

#[derive(Clone, Copy, Debug)]
enum Fate {
    Pass,
    /// Held 10 to 300 ms before it is forwarded.
    Delay,
    /// Closed after the request arrived; the server never sees it.
    DropRequest,
    /// Forwarded; the server answers (so it committed); the answer is thrown away.
    DropResponse,
    /// Forwarded, then reset (RST) 0 to 30 ms later, wherever the server got to.
    Reset,
}

#[derive(Default, serde::Serialize)]
pub struct Fates {
    pub passed: AtomicU64,
    pub delayed: AtomicU64,
    pub requests_dropped: AtomicU64,
    pub responses_dropped: AtomicU64,
    pub resets: AtomicU64,
}

/// Listens on a free loopback port and forwards to `upstream`; returns that port.
pub async fn start(upstream: u16, faults: Faults, fates: Arc<Fates>) -> anyhow::Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let fate = if faults.on() { pick() } else { Fate::Pass };
            let counter = match fate {
                Fate::Pass => &fates.passed,
                Fate::Delay => &fates.delayed,
                Fate::DropRequest => &fates.requests_dropped,
                Fate::DropResponse => &fates.responses_dropped,
                Fate::Reset => &fates.resets,
            };
            counter.fetch_add(1, Ordering::Relaxed);
            // An error here is the fault itself or the server being down: the client
            // sees a broken connection and retries.
            tokio::spawn(async move {
                let _ = carry(client, upstream, fate).await;
            });
        }
    });
    Ok(port)
}

/// One connection in five meets a fault; one in ten is delayed.
fn pick() -> Fate {
    match fastrand::u8(..100) {
        0..5 => Fate::DropRequest,
        5..12 => Fate::DropResponse,
        12..20 => Fate::Reset,
        20..30 => Fate::Delay,
        _ => Fate::Pass,
    }
}

async fn carry(mut client: TcpStream, upstream: u16, fate: Fate) -> std::io::Result<()> {
    match fate {
        Fate::DropRequest => {
            // Wait for the request to arrive, then close without a word.
            let mut buffer = [0; 1024];
            let _ = client.read(&mut buffer).await?;
            Ok(())
        }
        Fate::Pass | Fate::Delay => {
            if matches!(fate, Fate::Delay) {
                tokio::time::sleep(Duration::from_millis(fastrand::u64(10..300))).await;
            }
            let mut server = TcpStream::connect(("127.0.0.1", upstream)).await?;
            tokio::io::copy_bidirectional(&mut client, &mut server).await?;
            Ok(())
        }
        Fate::DropResponse => {
            let server = TcpStream::connect(("127.0.0.1", upstream)).await?;
            let (mut from_server, mut to_server) = server.into_split();
            let (mut from_client, _to_client) = client.into_split();
            let forward = tokio::spawn(async move {
                let _ = tokio::io::copy(&mut from_client, &mut to_server).await;
            });
            // The first bytes of the answer mean the server has finished (and committed).
            let mut buffer = [0; 1024];
            let _ = from_server.read(&mut buffer).await?;
            forward.abort();
            Ok(())
        }
        Fate::Reset => {
            let mut server = TcpStream::connect(("127.0.0.1", upstream)).await?;
            let cut_after = Duration::from_millis(fastrand::u64(0..30));
            let _ = tokio::time::timeout(
                cut_after,
                tokio::io::copy_bidirectional(&mut client, &mut server),
            )
            .await;
            // Closed with a zero linger time: a reset, not an orderly close.
            client.set_zero_linger()?;
            server.set_zero_linger()?;
            Ok(())
        }
    }
}
