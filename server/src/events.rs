//! New messages, fanned out to the live streams.
//!
//! With SQLite there is one process, and a handler hands its committed message straight
//! to this process's streams. With PostgreSQL there may be several processes: the write
//! transaction sends `NOTIFY` with the message's id (delivered only if it commits), and
//! every process, the writer's own included, listens and fans the message out to its
//! streams. A stream that may have missed something is told to catch up (`lagged`).

use crate::db::{self, Db};
use messaging_core::ConversationId;
use messaging_core::MessageId;
use messaging_core::wire::Message;
use sqlx::postgres::PgListener;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

/// What a live stream is told.
#[derive(Clone, Debug)]
pub enum Update {
    Message(Arc<Message>),
    /// Messages may have passed unseen (the link to PostgreSQL dropped): catch up.
    MayHaveMissed,
}

#[derive(Clone)]
pub struct Hub {
    sender: broadcast::Sender<Update>,
    /// Set when the PostgreSQL listener delivers every message, this process's own too.
    delivered_by_listener: bool,
    /// Cancelled at shutdown so open streams end and graceful shutdown can finish.
    closing: CancellationToken,
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
        loop {
            let Some(notification) = listener.try_recv().await? else {
                // The connection dropped; the next call reconnects.
                self.send(Update::MayHaveMissed);
                continue;
            };
            let Ok(id) = notification.payload().parse::<MessageId>() else {
                tracing::warn!(payload = notification.payload(), "unexpected notification");
                continue;
            };
            match db::messages::by_id(db.pool(), id).await? {
                Some(message) => self.send(Update::Message(Arc::new(message))),
                None => tracing::warn!(message.id = %id, "notified message not found"),
            }
        }
    }
}

async fn listen(database_url: &str) -> sqlx::Result<PgListener> {
    let mut listener = PgListener::connect(database_url).await?;
    listener.listen(db::messages::NEW_MESSAGE_CHANNEL).await?;
    Ok(listener)
}

pub fn is_for(message: &Message, conversation: ConversationId) -> bool {
    message.conversation_id == conversation
}
