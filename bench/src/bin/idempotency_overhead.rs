//! The idempotency step's own cost: the same write (storing one chat message through
//! the server's `store_once`) with and without `Idempotency::begin` + `commit` around
//! it, in turns, on one real SQLite file with the product's settings. No HTTP and no
//! load, so what differs between the two is the read that looks for a completed key
//! first and the key's record (with its response) inserted beside the message.
//!
//! `idempotency-overhead SQLITE_FILE ITERATIONS` prints a JSON summary (µs).

use anyhow::{Context, bail};
use axum::http::StatusCode;
use messaging_core::wire::{ChatRequest, ChatResponse, ContextType, CurrentUser};
use messaging_core::{ConversationId, IdempotencyKey, NewChatMessage, NewMessage, micros};
use server::db::{self, Db, conversations, directory, seed};
use server::idempotency::{Begun, Committed, Idempotency, IntentKey};
use server::messaging::store_once;
use std::time::{Duration, Instant};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const WARM_UP: usize = 200;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [file, iterations] = args.as_slice() else {
        bail!("usage: idempotency-overhead SQLITE_FILE ITERATIONS");
    };
    let iterations: usize = iterations.parse().context("ITERATIONS")?;
    let db = Db::connect(&format!("sqlite://{file}?mode=rwc"), None).await?;
    seed::seed_if_empty(&db).await?;
    let (user, conversation) = conversation_of_alice(&db).await?;
    let idempotency = Idempotency::new(Duration::from_secs(24 * 3600));

    let (mut without, mut with) = (Vec::new(), Vec::new());
    for n in 0..WARM_UP + iterations {
        // In turns, so drift on a shared machine touches both alike.
        let plain = time(store_plain(&db, &user, conversation, n)).await?;
        let keyed = time(store_keyed(&db, &idempotency, &user, conversation, n)).await?;
        if n >= WARM_UP {
            without.push(plain);
            with.push(keyed);
        }
    }
    let (without, with) = (median(&mut without), median(&mut with));
    println!(
        "{}",
        serde_json::json!({
            "iterations": iterations,
            "without_p50_us": without,
            "with_p50_us": with,
            "overhead_us": with - without,
        })
    );
    Ok(())
}

async fn conversation_of_alice(db: &Db) -> anyhow::Result<(CurrentUser, ConversationId)> {
    let alice = directory::credentials(db.pool(), "alice")
        .await?
        .context("the demo user alice")?;
    let user = directory::user(db.pool(), alice.user_id)
        .await?
        .context("alice")?;
    let agency = directory::agency_by_slug(db.pool(), "northwind")
        .await?
        .context("the demo agency northwind")?;
    let row = conversations::NewConversationRow {
        id: ConversationId::new_random(),
        context_type: ContextType::AgencyInquiry,
        context_id: agency.id.into(),
        created_by: user.id,
        agency_id: agency.id,
        created_at: micros::from_time(db::now()),
    };
    let mut tx = db.begin_write().await?;
    conversations::insert(&mut *tx, &row).await?;
    db::commit(tx).await?;
    Ok((user, row.id))
}

fn message(conversation: ConversationId, local_id: String) -> anyhow::Result<NewMessage> {
    let request = ChatRequest {
        conversation_id: conversation,
        text: "Is the flat still available?".into(),
        local_id,
        user_agent: None,
        max_touch_points: None,
    };
    NewChatMessage::try_from(request)
        .map(|intent| intent.message)
        .map_err(|errors| anyhow::anyhow!("{errors:?}"))
}

async fn store_plain(
    db: &Db,
    user: &CurrentUser,
    conversation: ConversationId,
    n: usize,
) -> anyhow::Result<()> {
    let message = message(conversation, format!("plain-{n}"))?;
    let mut tx = db.begin_write().await?;
    store_once(&mut tx, conversation, user, &message).await?;
    db::commit(tx).await?;
    Ok(())
}

async fn store_keyed(
    db: &Db,
    idempotency: &Idempotency,
    user: &CurrentUser,
    conversation: ConversationId,
    n: usize,
) -> anyhow::Result<()> {
    let message = message(conversation, format!("keyed-{n}"))?;
    let key = IdempotencyKey::parse(&format!("overhead-{n}"))?;
    let intent = IntentKey {
        user: user.id,
        key: &key,
        endpoint: "chat",
        fingerprint: message.identity(user.id),
    };
    let Begun::Fresh(mut fresh) = idempotency.begin::<ChatResponse>(db, intent).await? else {
        bail!("a new key was answered as a replay");
    };
    let stored = store_once(fresh.tx(), conversation, user, &message).await?;
    let body = ChatResponse {
        queued: true,
        message: stored.message().clone(),
    };
    match fresh.commit(StatusCode::ACCEPTED, &body).await? {
        Committed::Stored(_) => Ok(()),
        Committed::Superseded(_) => bail!("a new key was taken by another request"),
    }
}

async fn time(work: impl Future<Output = anyhow::Result<()>>) -> anyhow::Result<f64> {
    let started = Instant::now();
    work.await?;
    Ok(started.elapsed().as_secs_f64() * 1e6)
}

fn median(samples: &mut [f64]) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}
