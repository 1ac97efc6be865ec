//! New messages and ended sessions, fanned out to the live streams; and the cap on each
//! user's open streams.
//!
//! With SQLite there is one process, and a handler hands its committed message (or the
//! session it ended) straight to this process's streams. With PostgreSQL there may be
//! several processes: the write transaction sends `NOTIFY` with the message's id
//! (delivered only if it commits), a sign-out the session's token hash, and every
//! process, the sender's own included, listens and fans them out to its streams. A
//! stream that may have missed something is told to catch up (`lagged`).
//!
//! A listening connection that is lost without a word (a NAT or load balancer that
//! forgot it, a half-open socket after a failover) would look like a quiet store for
//! ever: after [`LISTENER_QUIET`] without a notification the process notifies itself,
//! and a listener that does not hear it within [`HEARTBEAT_WAIT`] is replaced.

use crate::db::{self, Db};
use messaging_core::wire::Message;
use messaging_core::{MessageId, UserId};
use sqlx::postgres::PgListener;
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{Notify, broadcast};
use tokio_util::sync::CancellationToken;

/// What a live stream is told.
#[derive(Clone, Debug)]
pub enum Update {
    Message(Arc<Message>),
    /// Messages may have passed unseen (the link to PostgreSQL dropped): catch up.
    MayHaveMissed,
    /// A session ended, named by its token's hash: its streams close.
    SessionEnded(Arc<str>),
}

/// Open streams per user in one process; a newer one closes the oldest.
pub const MAX_STREAMS_PER_USER: usize = 8;

/// How long the listener may hear nothing before it is asked to prove it still hears.
const LISTENER_QUIET: Duration = Duration::from_secs(10);

/// How long a heartbeat may take to come back through the listener.
const HEARTBEAT_WAIT: Duration = Duration::from_secs(5);

/// The channel of the heartbeats (every process hears every process's: any will do).
const HEARTBEAT_CHANNEL: &str = "listener_heartbeat";

#[derive(Clone)]
pub struct Hub {
    sender: broadcast::Sender<Update>,
    /// Set when the PostgreSQL listener delivers every message, this process's own too.
    delivered_by_listener: bool,
    /// Cancelled at shutdown so open streams end and graceful shutdown can finish.
    closing: CancellationToken,
    streams: Arc<StreamSlots>,
}

impl Hub {
    /// For one process on its own store (SQLite).
    pub fn local() -> Self {
        Self {
            // A slow stream that falls this far behind is told to reload (it lags),
            // rather than holding memory for ever.
            sender: broadcast::channel(1024).0,
            delivered_by_listener: false,
            closing: CancellationToken::new(),
            streams: Arc::default(),
        }
    }

    /// For one of several processes on PostgreSQL; messages arrive by `LISTEN`, which
    /// is in place before this returns, so no message committed after startup is missed.
    pub async fn following_postgres(db: Db, database_url: String) -> anyhow::Result<Self> {
        let hub = Self {
            delivered_by_listener: true,
            ..Self::local()
        };
        let listener = listen(&database_url).await?;
        tokio::spawn(hub.clone().follow_until_closed(listener, db, database_url));
        Ok(hub)
    }

    /// Hands a committed message to the live streams. With PostgreSQL the listener
    /// does it (for every process), so this does nothing there.
    pub fn publish(&self, message: Message) {
        if !self.delivered_by_listener {
            self.send(Update::Message(Arc::new(message)));
        }
    }

    /// Closes the session's streams, in every process.
    pub async fn end_session(&self, db: &Db, token_hash: &str) -> sqlx::Result<()> {
        if self.delivered_by_listener {
            db::sessions::announce_end(db.pool(), token_hash).await
        } else {
            self.send(Update::SessionEnded(token_hash.into()));
            Ok(())
        }
    }

    /// A place for one of `user`'s streams; the oldest of theirs is told to close
    /// ([`StreamSlot::replaced`]) when they hold [`MAX_STREAMS_PER_USER`] already.
    pub fn open_stream(&self, user: UserId) -> StreamSlot {
        self.streams.open(user)
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Update> {
        self.sender.subscribe()
    }

    /// Resolves when the server starts shutting down.
    pub fn closing(&self) -> tokio_util::sync::WaitForCancellationFutureOwned {
        self.closing.clone().cancelled_owned()
    }

    /// Ends every open stream.
    pub fn close(&self) {
        self.closing.cancel();
    }

    fn send(&self, update: Update) {
        // No subscriber is fine: nobody is watching.
        let _ = self.sender.send(update);
    }

    /// Follows `NOTIFY` until shutdown, reconnecting after a lost connection.
    async fn follow_until_closed(self, mut listener: PgListener, db: Db, database_url: String) {
        let closing = self.closing.clone();
        let follow = async {
            loop {
                let Err(error) = self.follow(&mut listener, &db).await;
                tracing::warn!(%error, "live updates from PostgreSQL interrupted; reconnecting");
                loop {
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    if let Ok(again) = listen(&database_url).await {
                        listener = again;
                        // Whatever was committed meanwhile reached no stream here.
                        self.send(Update::MayHaveMissed);
                        break;
                    }
                }
            }
        };
        tokio::select! {
            () = closing.cancelled() => {}
            () = follow => {}
        }
    }

    async fn follow(
        &self,
        listener: &mut PgListener,
        db: &Db,
    ) -> anyhow::Result<std::convert::Infallible> {
        // When a heartbeat was sent that has not come back yet.
        let mut heartbeat_sent: Option<tokio::time::Instant> = None;
        loop {
            let wait = heartbeat_sent.map_or(LISTENER_QUIET, |sent| {
                HEARTBEAT_WAIT.saturating_sub(sent.elapsed())
            });
            let received = match tokio::time::timeout(wait, listener.try_recv()).await {
                Ok(received) => received?,
                Err(_) if heartbeat_sent.is_some() => {
                    anyhow::bail!("the listener did not hear its own heartbeat");
                }
                Err(_) => {
                    if let Err(error) = heartbeat(db).await {
                        // The store is unreachable: the wait tells about the listener.
                        tracing::warn!(%error, "could not send the listener's heartbeat");
                    }
                    heartbeat_sent = Some(tokio::time::Instant::now());
                    continue;
                }
            };
            // Anything heard proves the connection alive.
            heartbeat_sent = None;
            let Some(notification) = received else {
                // The connection dropped; the next call reconnects.
                self.send(Update::MayHaveMissed);
                continue;
            };
            match notification.channel() {
                HEARTBEAT_CHANNEL => {}
                db::sessions::SESSION_ENDED_CHANNEL => {
                    self.send(Update::SessionEnded(notification.payload().into()));
                }
                _ => self.deliver(notification.payload(), db).await?,
            }
        }
    }

    /// The messages one transaction stored (their ids: a notification's payload), read
    /// together and handed to the streams.
    async fn deliver(&self, payload: &str, db: &Db) -> anyhow::Result<()> {
        let ids: Result<Vec<MessageId>, _> = payload.split(',').map(str::parse).collect();
        let Ok(ids) = ids else {
            tracing::warn!(payload, "unexpected notification");
            return Ok(());
        };
        // Within the deadline, as every stream waits on it: past it, the listener is
        // replaced and the streams catch up.
        let messages = db.in_time(db::messages::by_ids(db.pool(), &ids)).await?;
        if messages.len() < ids.len() {
            tracing::warn!(payload, "notified messages not found");
        }
        for message in messages {
            self.send(Update::Message(Arc::new(message)));
        }
        Ok(())
    }
}

/// Notifies every listener (this process's too) on the heartbeat channel, within
/// [`HEARTBEAT_WAIT`]: the listener waits on it, and an answer that never comes (the
/// connection went silent) would stop it for good.
async fn heartbeat(db: &Db) -> anyhow::Result<()> {
    let sent = db::notify(db.pool(), HEARTBEAT_CHANNEL, "");
    tokio::time::timeout(HEARTBEAT_WAIT, sent).await??;
    Ok(())
}

/// A new listener, within the deadline: the live streams wait on it, and a connection
/// that went silent as it was made would hold them up for good. (A replaced listener's
/// goodbye, `UNLISTEN *`, is sqlx's, with no deadline: on a silent connection it keeps
/// a task and a socket until the system gives the connection up.)
async fn listen(database_url: &str) -> sqlx::Result<PgListener> {
    let listening = async {
        let mut listener = PgListener::connect(database_url).await?;
        listener
            .listen_all([
                db::messages::NEW_MESSAGE_CHANNEL,
                db::sessions::SESSION_ENDED_CHANNEL,
                HEARTBEAT_CHANNEL,
            ])
            .await?;
        Ok(listener)
    };
    tokio::time::timeout(db::STATEMENT_DEADLINE, listening)
        .await
        .unwrap_or_else(|_| Err(db::no_answer_in_time()))
}

/// A user's open streams, oldest first: each one's id and its "replaced" signal.
type OpenStreams = VecDeque<(u64, Arc<Notify>)>;

/// Each user's open streams.
#[derive(Default)]
struct StreamSlots {
    by_user: Mutex<HashMap<UserId, OpenStreams>>,
    next_id: AtomicU64,
}

impl StreamSlots {
    fn open(self: &Arc<Self>, user: UserId) -> StreamSlot {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let replaced = Arc::new(Notify::new());
        let mut by_user = self.by_user();
        let streams = by_user.entry(user).or_default();
        while streams.len() >= MAX_STREAMS_PER_USER {
            if let Some((_, oldest)) = streams.pop_front() {
                oldest.notify_one();
            }
        }
        streams.push_back((id, Arc::clone(&replaced)));
        StreamSlot {
            user,
            id,
            replaced,
            slots: Arc::clone(self),
        }
    }

    fn by_user(&self) -> std::sync::MutexGuard<'_, HashMap<UserId, OpenStreams>> {
        self.by_user
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// One open stream's place among its user's; given back when dropped.
pub struct StreamSlot {
    user: UserId,
    id: u64,
    /// Notified when a newer stream of the same user took this one's place.
    pub replaced: Arc<Notify>,
    slots: Arc<StreamSlots>,
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        let mut by_user = self.slots.by_user();
        if let Some(streams) = by_user.get_mut(&self.user) {
            streams.retain(|(id, _)| *id != self.id);
            if streams.is_empty() {
                by_user.remove(&self.user);
            }
        }
    }
}
