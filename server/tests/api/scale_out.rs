//! Several server processes on one PostgreSQL: the live stream reaches a participant
//! connected to another process than the sender's, and ends at once when its session
//! signs out through another process (the processes share `LISTEN`/`NOTIFY`); a write
//! held up in one process never lets a reader skip a message. A connection to PostgreSQL
//! that goes silent (a proxy in the test freezes it) holds up neither the live streams
//! nor the writes, and the pool gives it up.

use crate::helpers::{
    ServerProcess, Store, TestApp, count_rows, fresh_database, inquiry, next_event,
    open_transaction, streamed_local_ids,
};
use futures_util::Stream;
use messaging_components::timeline::{Merged, merge_confirmed};
use messaging_core::wire::{ChatResponse, Message, Page};
use reqwest::StatusCode;
use serde_json::json;
use sqlx::Executor;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_live_stream_reaches_a_participant_connected_to_another_process() {
    let (database_url, _dir) = fresh_database(Store::Postgres).await;
    let first = ServerProcess::start(&database_url).await;
    let second = ServerProcess::start(&database_url).await;
    let sender = TestApp::at(first.address.clone(), database_url.clone());
    let reader = TestApp::at(second.address.clone(), database_url.clone());

    let (alice, id) = sender.alice_asks_northwind().await;
    let carol = reader.sign_in("carol").await;
    let stream = reader
        .get(&carol, &format!("/api/messages/conversations/{id}/stream"))
        .await;
    assert_eq!(stream.status(), StatusCode::OK);

    // Through the first process; the repeat is a retry and is not streamed again.
    for (text, local_id) in [("First", "s-1"), ("First", "s-1"), ("Second", "s-2")] {
        let body = json!({ "conversation_id": id, "text": text, "local_id": local_id });
        assert_eq!(
            sender.chat(&alice, &body).await.status(),
            StatusCode::ACCEPTED
        );
    }

    assert_eq!(streamed_local_ids(stream, 2).await, ["s-1", "s-2"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_out_through_one_process_ends_the_session_at_once_on_another() {
    let (database_url, _dir) = fresh_database(Store::Postgres).await;
    let first = ServerProcess::start(&database_url).await;
    let second = ServerProcess::start(&database_url).await;
    let one = TestApp::at(first.address.clone(), database_url.clone());
    let other = TestApp::at(second.address.clone(), database_url.clone());

    let (alice, id) = one.alice_asks_northwind().await;
    let stream = other
        .get(&alice, &format!("/api/messages/conversations/{id}/stream"))
        .await;
    assert_eq!(stream.status(), StatusCode::OK);
    one.sign_out(&alice).await;

    let mut body = Box::pin(stream.bytes_stream());
    let mut buffered = String::new();
    let within = Duration::from_secs(2);
    assert_eq!(
        next_event(&mut body, &mut buffered, within).await,
        Some(("closed".to_owned(), "signed_out".to_owned()))
    );
    assert_eq!(next_event(&mut body, &mut buffered, within).await, None);
    // The other process had the session in its cache (the stream used it, and trusts it
    // for 5 s): forgotten as the stream ended.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(1);
    while other.get(&alice, "/api/session").await.status() != StatusCode::UNAUTHORIZED {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the token still works on the other process"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Two processes on one PostgreSQL, one of them held up writing a message it has already
/// numbered: the other process's next message waits behind it (the conversation's row
/// lock), a reader catching up meanwhile gets a gap-free run, and a reader following the
/// rule of the browser's view (`timeline::merge_confirmed`: fetch the gap first) ends with
/// every message, in order. The hold-up: a transaction of the test's own has inserted,
/// uncommitted, a row with the held message's `local_id`, so the batch's statement (its
/// number taken, the row locked) waits at the unique index for it; it is then rolled back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_held_up_in_one_process_never_lets_a_reader_skip_a_message() {
    let (database_url, _dir) = fresh_database(Store::Postgres).await;
    let held = ServerProcess::start(&database_url).await;
    let quick = ServerProcess::start(&database_url).await;
    let via_quick = TestApp::at(quick.address.clone(), database_url.clone());

    let (alice, id) = via_quick.alice_asks_northwind().await;
    let carol = via_quick.sign_in("carol").await;
    let mut reader = Reader::open(&via_quick, &carol, &id).await;
    let mut holder = open_transaction(&database_url).await;
    sqlx::query(
        "INSERT INTO messages (id, conversation_id, seq, local_id, sender_id, body, device_kind, created_at) \
         SELECT $1, id, -1, 'delayed', created_by, 'in the way', 'unknown', 0 FROM conversations WHERE id = $2",
    )
    .bind(uuid::Uuid::new_v4().to_string())
    .bind(&id)
    .execute(&mut holder)
    .await
    .expect("the row in the way");

    // Through one process: numbered 2, then its write waits for the row in the way.
    let send = |address: &str, text: &str| {
        let app = TestApp::at(address.to_owned(), database_url.clone());
        let body = json!({ "conversation_id": id, "text": text, "local_id": text });
        let token = alice.clone();
        // As the outbox does: a 503 (a lock waited for too long) is retried, same local_id.
        tokio::spawn(async move {
            loop {
                let status = app.chat(&token, &body).await.status();
                if status != StatusCode::SERVICE_UNAVAILABLE {
                    return status;
                }
            }
        })
    };
    // From here to the rollback takes well under the 2 s lock timeout (past it the held
    // write would give up, be retried, and `behind` would take number 2).
    let delayed = send(&held.address, "delayed");
    wait_for_backends(&database_url, "wait_event_type = 'Lock'", 1).await;
    // Through the quick process: it waits on the conversation's row lock.
    let behind = send(&quick.address, "behind");
    wait_for_backends(&database_url, "wait_event_type = 'Lock'", 2).await;
    reader.catch_up().await;
    holder.execute("ROLLBACK").await.expect("ROLLBACK");

    assert_eq!(delayed.await.expect("delayed"), StatusCode::ACCEPTED);
    assert_eq!(behind.await.expect("behind"), StatusCode::ACCEPTED);
    reader.follow_until(3).await;
    assert_eq!(reader.local_ids(), ["m-0", "delayed", "behind"]);
    assert_eq!(reader.seqs(), [1, 2, 3]);
}

/// Waits until a session of the test's database is in the state `condition` describes
/// (a `pg_stat_activity` condition).
async fn wait_for_backends(database_url: &str, condition: &str, at_least: i64) {
    let sql = format!(
        "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() AND {condition}"
    );
    for _ in 0..200 {
        if count_rows(database_url, &sql).await >= at_least {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("no session came to: {condition}");
}

/// A reader as the browser's conversation view is one: what it shows is a gap-free run,
/// fed by the live stream, and a message past a gap makes it fetch what is missing.
struct Reader<'a> {
    app: &'a TestApp,
    token: String,
    conversation: String,
    shown: Vec<Message>,
    stream: Pin<Box<dyn Stream<Item = reqwest::Result<bytes::Bytes>> + Send>>,
    buffered: String,
}

impl<'a> Reader<'a> {
    async fn open(app: &'a TestApp, token: &str, conversation: &str) -> Self {
        let stream = app
            .get(
                token,
                &format!("/api/messages/conversations/{conversation}/stream"),
            )
            .await;
        assert_eq!(stream.status(), StatusCode::OK);
        let mut reader = Self {
            app,
            token: token.to_owned(),
            conversation: conversation.to_owned(),
            shown: Vec::new(),
            stream: Box::pin(stream.bytes_stream()),
            buffered: String::new(),
        };
        reader.catch_up().await;
        reader
    }

    /// Fetches what follows the last message shown, as the view does after a gap.
    async fn catch_up(&mut self) {
        let after = self.shown.last().map_or(0, |message| message.seq);
        let page: Page<Message> = self
            .app
            .get(
                &self.token,
                &format!(
                    "/api/messages/conversations/{}/messages?cursor={after}",
                    self.conversation
                ),
            )
            .await
            .json()
            .await
            .expect("a page of messages");
        let seqs: Vec<u64> = page.items.iter().map(|m| m.seq).collect();
        let run: Vec<u64> = (after + 1..).take(seqs.len()).collect();
        assert_eq!(seqs, run, "a page with a gap after {after}");
        self.merge_all(page.items);
    }

    fn merge_all(&mut self, messages: Vec<Message>) {
        let conversation = self.conversation.parse().expect("conversation id");
        for message in messages {
            merge_confirmed(&mut self.shown, conversation, message);
        }
    }

    /// Takes the stream's messages until `count` are shown, each through the view's rule.
    async fn follow_until(&mut self, count: usize) {
        while self.shown.len() < count {
            let (event, data) = next_event(
                &mut self.stream,
                &mut self.buffered,
                Duration::from_secs(10),
            )
            .await
            .expect("the stream stays open");
            if event != "message" {
                continue;
            }
            let message: Message = serde_json::from_str(&data).expect("message JSON");
            let conversation = self.conversation.parse().expect("conversation id");
            if merge_confirmed(&mut self.shown, conversation, message) == Merged::Gap {
                self.catch_up().await;
            }
        }
    }

    fn local_ids(&self) -> Vec<String> {
        self.shown.iter().map(|m| m.local_id.to_string()).collect()
    }

    fn seqs(&self) -> Vec<u64> {
        self.shown.iter().map(|m| m.seq).collect()
    }
}

/// A listening connection lost without a word (a NAT that forgot it: open, carrying
/// nothing) is noticed by its heartbeat and replaced; the streams are told to catch up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_listener_that_silently_stops_hearing_is_replaced_and_streams_catch_up() {
    let (database_url, _dir) = fresh_database(Store::Postgres).await;
    let proxy = FreezingProxy::start(&database_url, b"LISTEN", false).await;
    let process = ServerProcess::start(&proxy.database_url).await;
    let app = TestApp::at(process.address.clone(), database_url.clone());
    let (alice, id) = app.alice_asks_northwind().await;
    let carol = app.sign_in("carol").await;
    let stream = app
        .get(&carol, &format!("/api/messages/conversations/{id}/stream"))
        .await;
    assert_eq!(stream.status(), StatusCode::OK);

    proxy.freeze_marked();
    let body = json!({ "conversation_id": id, "text": "Unheard?", "local_id": "unheard" });
    assert_eq!(app.chat(&alice, &body).await.status(), StatusCode::ACCEPTED);

    // Within the quiet limit (10 s), the heartbeat's wait (5 s) and a reconnection.
    hears_a_message_or_lagged(stream).await;
}

/// The listener's heartbeat is sent on a connection that goes silent: the listener
/// gives the heartbeat up in time, is replaced as one that stopped hearing, and the
/// streams hear what comes next, instead of the listener waiting on it for ever.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_heartbeat_sent_on_a_connection_gone_silent_holds_up_no_stream() {
    let (database_url, _dir) = fresh_database(Store::Postgres).await;
    // The heartbeat's channel as a bound parameter (its length before it), which the
    // listener's `LISTEN "listener_heartbeat"` is not.
    let proxy = FreezingProxy::start(&database_url, b"\0\0\0\x12listener_heartbeat", true).await;
    let process = ServerProcess::start(&proxy.database_url).await;
    let app = TestApp::at(process.address.clone(), database_url.clone());
    let (alice, id) = app.alice_asks_northwind().await;
    let carol = app.sign_in("carol").await;
    let stream = app
        .get(&carol, &format!("/api/messages/conversations/{id}/stream"))
        .await;
    assert_eq!(stream.status(), StatusCode::OK);
    // The first heartbeat goes after 10 s without a notification.
    proxy.marked_within(Duration::from_secs(20)).await;

    let body = json!({ "conversation_id": id, "text": "Heard?", "local_id": "heard" });
    assert_eq!(app.chat(&alice, &body).await.status(), StatusCode::ACCEPTED);
    hears_a_message_or_lagged(stream).await;
}

/// A statement still running after 15 s is cancelled by PostgreSQL (one a request gave
/// up on at its deadline would run on there until it answered), and its error is one
/// clients retry (503), not a 500.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_statement_running_past_its_time_is_cancelled_by_postgresql() {
    let (database_url, _dir) = fresh_database(Store::Postgres).await;
    let db = server::db::Db::connect(&database_url, Some(1))
        .await
        .expect("a store");
    let started = Instant::now();
    let error = sqlx::query("SELECT 1 FROM pg_sleep(30)")
        .execute(db.pool())
        .await
        .expect_err("cancelled");
    assert!(
        started.elapsed() < Duration::from_secs(25),
        "{:?}",
        started.elapsed()
    );
    assert!(server::db::is_contention(&error), "{error}");
}

/// The answer to a request whose connection to PostgreSQL went silent: 503 (retry),
/// within its deadline (10 s) and well before the request's own (30 s). Returns when the
/// request was sent (the future sends it when first polled).
async fn refused_in_time(answer: impl Future<Output = reqwest::Response>) -> Instant {
    let sent = Instant::now();
    let status = answer.await.status();
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        sent.elapsed() < Duration::from_secs(20),
        "{:?}",
        sent.elapsed()
    );
    sent
}

/// Within 25 s, the stream carries a message or is told to catch up.
async fn hears_a_message_or_lagged(stream: reqwest::Response) {
    let mut body = stream.bytes_stream();
    let mut buffered = String::new();
    let heard = loop {
        let Some((event, _)) = next_event(&mut body, &mut buffered, Duration::from_secs(25)).await
        else {
            break None;
        };
        if matches!(event.as_str(), "lagged" | "message") {
            break Some(event);
        }
    };
    assert!(
        matches!(heard.as_deref(), Some("lagged" | "message")),
        "the stream heard {heard:?}"
    );
}

/// A batch of messages whose connection goes silent once its statement is sent (it
/// commits; the answer never comes back, as when a NAT forgets the connection): its
/// messages get a 503 within the statement's deadline (10 s), not a wait for ever; the
/// retry gets the stored message, stored once, and the process goes on writing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_whose_connection_goes_silent_gets_503_in_time_and_its_retry_the_stored_message() {
    let (database_url, _dir) = fresh_database(Store::Postgres).await;
    // The statement's parameters carry the text (its SQL went before, to be prepared).
    let proxy = FreezingProxy::start(&database_url, b"Silent?", true).await;
    let process = ServerProcess::start(&proxy.database_url).await;
    let app = TestApp::at(process.address.clone(), database_url.clone());
    let (alice, id) = app.alice_asks_northwind().await;

    let body = json!({ "conversation_id": id, "text": "Silent?", "local_id": "silent" });
    refused_in_time(app.chat(&alice, &body)).await;

    let retried_at = time::OffsetDateTime::now_utc();
    let retry = app.chat(&alice, &body).await;
    assert!(retry.status().is_success(), "{}", retry.status());
    let retry: ChatResponse = retry.json().await.expect("an answer");
    assert_eq!(retry.message.seq, 2);
    assert!(
        retry.message.created_at < retried_at,
        "stored by the retry, not by the statement whose answer was lost"
    );
    let next = json!({ "conversation_id": id, "text": "Still there", "local_id": "after" });
    assert!(app.chat(&alice, &next).await.status().is_success());
    let stored = count_rows(
        &database_url,
        "SELECT COUNT(*) FROM messages WHERE local_id IN ('silent', 'after')",
    )
    .await;
    assert_eq!(stored, 2);
}

/// A batch written again (a message in it was stored through another process) whose
/// connection goes silent: its messages get 503 within the deadline, the retry gets the
/// stored message, and the process goes on writing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_written_again_on_a_connection_gone_silent_gets_503_in_time() {
    let (database_url, _dir) = fresh_database(Store::Postgres).await;
    let direct = ServerProcess::start(&database_url).await;
    // Only a batch written again takes its numbers with this statement.
    let proxy = FreezingProxy::start(&database_url, b"last_seq + asked", true).await;
    let silent = ServerProcess::start(&proxy.database_url).await;
    let first = TestApp::at(direct.address.clone(), database_url.clone());
    let second = TestApp::at(silent.address.clone(), database_url.clone());
    let (alice, id) = first.alice_asks_northwind().await;
    let body = json!({ "conversation_id": id, "text": "Twice", "local_id": "twice" });
    let stored: ChatResponse = first
        .chat(&alice, &body)
        .await
        .json()
        .await
        .expect("stored");

    refused_in_time(second.chat(&alice, &body)).await;

    let retry = second.chat(&alice, &body).await;
    assert!(retry.status().is_success(), "{}", retry.status());
    let retry: ChatResponse = retry.json().await.expect("an answer");
    assert_eq!(retry.message.id, stored.message.id);
    let next = json!({ "conversation_id": id, "text": "Still there", "local_id": "after" });
    assert!(second.chat(&alice, &next).await.status().is_success());
}

/// A new conversation whose connection goes silent in the middle of its transaction:
/// the intent gives up at its deadline (503), so its key is not held in flight for
/// ever (a retry would get 409), and PostgreSQL ends the silent session's transaction,
/// so its row locks do not refuse the retry (503 after each lock wait); the retry
/// creates the conversation.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_conversation_whose_connection_goes_silent_can_be_retried_in_time() {
    let (database_url, _dir) = fresh_database(Store::Postgres).await;
    // The first message's text travels with its insert, after the conversation's own.
    let proxy = FreezingProxy::start(&database_url, b"Lost in transit?", true).await;
    let process = ServerProcess::start(&proxy.database_url).await;
    let app = TestApp::at(process.address.clone(), database_url.clone());
    let alice = app.sign_in("alice").await;
    let agency = app.agency_id("northwind").await;
    let body = inquiry(&agency, "Lost in transit?", "lost");

    let sent = refused_in_time(app.create_conversation(&alice, "silent-key", &body)).await;
    loop {
        let retry = app.create_conversation(&alice, "silent-key", &body).await;
        if retry.status() == StatusCode::CREATED {
            break;
        }
        assert!(
            sent.elapsed() < Duration::from_secs(40),
            "still {} after {:?}",
            retry.status(),
            sent.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let stored = count_rows(
        &database_url,
        "SELECT COUNT(*) FROM messages WHERE local_id = 'lost'",
    )
    .await;
    assert_eq!(stored, 1);
}

/// A read whose connection goes silent (PostgreSQL's host gone without a word): the
/// request ends at its deadline, and the pool gives the connection up within the check's
/// deadline instead of waiting on it for ever. With a pool of one connection, the next
/// reads are answered again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_silent_under_a_read_is_given_up_so_the_pool_goes_on() {
    let (database_url, _dir) = fresh_database(Store::Postgres).await;
    // The read's parameters carry the local_id asked for.
    let proxy = FreezingProxy::start(&database_url, b"gone-silent", true).await;
    let process = ServerProcess::start_with_env(
        &proxy.database_url,
        &[("DATABASE_POOL_SIZE", "1"), ("REQUEST_TIMEOUT_SECS", "2")],
    )
    .await;
    let app = TestApp::at(process.address.clone(), database_url.clone());
    let (alice, id) = app.alice_asks_northwind().await;
    let ask = |local_id: &str| format!("/api/messages/conversations/{id}/messages/{local_id}");

    let silent = app.get(&alice, &ask("gone-silent")).await;
    assert_eq!(silent.status(), StatusCode::REQUEST_TIMEOUT);

    // Each a read of the store: nothing in memory knows these local_ids.
    let given_up = Instant::now();
    let mut attempt = 0;
    loop {
        attempt += 1;
        let status = app
            .get(&alice, &ask(&format!("later-{attempt}")))
            .await
            .status();
        if status == StatusCode::NOT_FOUND {
            break;
        }
        assert!(
            given_up.elapsed() < Duration::from_secs(15),
            "still {status} after {:?}",
            given_up.elapsed()
        );
    }
}

/// An idle connection that went silent (a NAT forgot it): the check before its next use
/// gives it up in time, and the request is answered on a new connection instead of
/// failing when the pool's wait for a connection (10 s) runs out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_connection_gone_silent_is_replaced_before_use() {
    let (database_url, _dir) = fresh_database(Store::Postgres).await;
    // Every connection of the pool sets its lock timeout first; the listener's does not.
    let proxy = FreezingProxy::start(&database_url, b"lock_timeout", false).await;
    let process =
        ServerProcess::start_with_env(&proxy.database_url, &[("DATABASE_POOL_SIZE", "1")]).await;
    let app = TestApp::at(process.address.clone(), database_url.clone());
    let (alice, id) = app.alice_asks_northwind().await;
    // The listener reads each new message on the pool's connection: once a stream has
    // one, that read is done.
    let stream = app
        .get(&alice, &format!("/api/messages/conversations/{id}/stream"))
        .await;
    let body = json!({ "conversation_id": id, "text": "Read", "local_id": "read" });
    assert_eq!(app.chat(&alice, &body).await.status(), StatusCode::ACCEPTED);
    assert_eq!(streamed_local_ids(stream, 1).await, ["read"]);
    // And the pool's checks as that connection came back.
    tokio::time::sleep(Duration::from_millis(200)).await;
    proxy.freeze_marked();
    // Idle long enough to be checked before its next use.
    tokio::time::sleep(Duration::from_millis(1_500)).await;

    let asked = Instant::now();
    let read = app
        .get(
            &alice,
            &format!("/api/messages/conversations/{id}/messages/unknown"),
        )
        .await;
    assert_eq!(
        read.status(),
        StatusCode::NOT_FOUND,
        "{:?}",
        asked.elapsed()
    );
}

/// A TCP proxy to the test's PostgreSQL that can freeze the connections whose client
/// sent `marker` (`LISTEN`, say): they stay open and carry nothing either way.
struct FreezingProxy {
    /// The test database's URL, through the proxy.
    database_url: String,
    marked: Arc<Mutex<Vec<Arc<AtomicBool>>>>,
}

impl FreezingProxy {
    /// With `freeze_the_first`, the first connection to send `marker` is frozen as soon
    /// as it has: what it sent reaches PostgreSQL, and the answer never comes back.
    async fn start(database_url: &str, marker: &'static [u8], freeze_the_first: bool) -> Self {
        let mut url = reqwest::Url::parse(database_url).expect("a database URL");
        let target = format!(
            "{}:{}",
            url.host_str().expect("a host"),
            url.port().unwrap_or(5432)
        );
        let accepting = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a port");
        let port = accepting.local_addr().expect("an address").port();
        url.set_port(Some(port)).expect("a port in the URL");
        let _ = url.set_host(Some("127.0.0.1"));
        let marked: Arc<Mutex<Vec<Arc<AtomicBool>>>> = Arc::default();
        let marking = Marking {
            marker,
            freeze_the_first,
            marked: Arc::clone(&marked),
        };
        tokio::spawn(async move {
            while let Ok((client, _)) = accepting.accept().await {
                let Ok(server) = tokio::net::TcpStream::connect(&target).await else {
                    continue;
                };
                let frozen = Arc::new(AtomicBool::new(false));
                let (client_reads, client_writes) = client.into_split();
                let (server_reads, server_writes) = server.into_split();
                tokio::spawn(carry(
                    client_reads,
                    server_writes,
                    Arc::clone(&frozen),
                    Some(marking.clone()),
                ));
                tokio::spawn(carry(server_reads, client_writes, frozen, None));
            }
        });
        Self {
            database_url: url.to_string(),
            marked,
        }
    }

    /// Waits until a connection has sent the marker.
    async fn marked_within(&self, limit: Duration) {
        let started = Instant::now();
        while self.marked.lock().expect("the list").is_empty() {
            assert!(
                started.elapsed() < limit,
                "no connection sent the marker in {limit:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// From now on the connections marked so far carry nothing (new ones do).
    fn freeze_marked(&self) {
        let marked = self.marked.lock().expect("the list");
        assert!(
            !marked.is_empty(),
            "no connection through the proxy sent the marker"
        );
        for frozen in marked.iter() {
            frozen.store(true, Ordering::SeqCst);
        }
    }
}

/// Which connections a [`FreezingProxy`] marks, and whether it freezes the first at once.
#[derive(Clone)]
struct Marking {
    marker: &'static [u8],
    freeze_the_first: bool,
    marked: Arc<Mutex<Vec<Arc<AtomicBool>>>>,
}

/// Carries bytes one way until the connection ends or is frozen (then holds it); from the
/// client, with `marking`, marks the connection when the marker passes.
async fn carry(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    frozen: Arc<AtomicBool>,
    marking: Option<Marking>,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut buffer = vec![0; 64 * 1024];
    loop {
        let Ok(read) = from.read(&mut buffer).await else {
            return;
        };
        if read == 0 || frozen.load(Ordering::SeqCst) {
            if read > 0 {
                std::future::pending::<()>().await;
            }
            return;
        }
        let chunk = &buffer[..read];
        if let Some(marking) = &marking
            && chunk
                .windows(marking.marker.len())
                .any(|w| w == marking.marker)
        {
            let mut marked = marking.marked.lock().expect("the list");
            if marking.freeze_the_first && marked.is_empty() {
                // Before the chunk goes: its answer must not slip through.
                frozen.store(true, Ordering::SeqCst);
            }
            marked.push(Arc::clone(&frozen));
        }
        if to.write_all(chunk).await.is_err() {
            return;
        }
    }
}
