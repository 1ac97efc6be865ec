//! Starting a conversation: created, merged into the one the natural key names, or
//! replayed from its idempotency key.

use super::Messaging;
use super::{Sender, Stored, store_once, to_completion};
use crate::db::{self, Tx, conversations, directory};
use crate::error::ApiError;
use crate::idempotency::{Answer, Begun, Committed, IntentKey};
use crate::metrics::dedup;
use http::StatusCode;
use messaging_core::fingerprint::Fingerprinted;
use messaging_core::wire::{
    Conversation, CreateConversationRequest, CreateConversationResponse, CurrentUser,
};
use messaging_core::{AgencyId, DedupReason, IdempotencyKey, NewConversation};

/// The endpoint stored with each key record; a key reused at another endpoint is refused.
const CREATE_ENDPOINT: &str = "POST /api/messages/conversations";

/// Creates, merges or replays a conversation: the one path behind the API and the
/// compose form that works without JavaScript. Its writes run to the end even if the
/// client leaves.
pub async fn start_conversation(
    messaging: Messaging,
    sender: Sender,
    key: IdempotencyKey,
    mut request: CreateConversationRequest,
) -> Result<Answer<CreateConversationResponse>, ApiError> {
    let message = &mut request.initial_message;
    message.user_agent = sender.device(message.user_agent.take());
    let in_flight = &messaging.intents_in_flight;
    // Within the deadline: the intent holds its key in flight (a retry meanwhile gets
    // 409) and a connection until it ends.
    to_completion(in_flight, {
        let messaging = messaging.clone();
        async move {
            let work = create_or_merge(&messaging, &sender, &key, request);
            messaging.db.in_time(work).await
        }
    })
    .await
    .map_err(ApiError::in_intent)
}

async fn create_or_merge(
    messaging: &Messaging,
    sender: &Sender,
    key: &IdempotencyKey,
    request: CreateConversationRequest,
) -> Result<Answer<CreateConversationResponse>, ApiError> {
    let user = &sender.user;
    let intent = NewConversation::try_from(request).map_err(ApiError::validation)?;
    let agency = directory::agency_by_id(messaging.db.pool(), AgencyId::from(intent.context_id))
        .await?
        .ok_or_else(|| ApiError::not_found("agency"))?;

    let intent_key = IntentKey {
        user: user.id,
        key,
        endpoint: CREATE_ENDPOINT,
        fingerprint: intent.fingerprint(),
    };
    let mut fresh = match messaging
        .idempotency
        .begin(&messaging.db, intent_key)
        .await?
    {
        Begun::Replay(answer) => return Ok(answer),
        Begun::Fresh(fresh) => fresh,
    };

    let Written {
        mut conversation,
        created,
        stored,
    } = write_conversation(fresh.tx(), &intent, user, agency.id).await?;
    if let Stored::New(message) = &stored {
        // What the insert did to the row, without reading it again.
        conversation.last_message_at = conversation.last_message_at.max(message.created_at);
    }

    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let body = CreateConversationResponse {
        conversation,
        message: stored.message().clone(),
        dedup: (!created).then_some(DedupReason::NaturalKey),
        key_expires_at: fresh.expires_at(),
    };
    match fresh.commit(status, &body).await? {
        Committed::Stored(answer) => {
            if !created {
                metrics::counter!(dedup::NATURAL_KEY_MERGES).increment(1);
                tracing::info!(conversation.id = %body.conversation.id, "create merged into the existing conversation");
            }
            if let Stored::New(message) = stored {
                messaging.hub.publish(message);
            }
            Ok(answer)
        }
        Committed::Superseded(answer) => Ok(answer),
    }
}

/// What [`write_conversation`] wrote, or found.
struct Written {
    conversation: Conversation,
    /// A new conversation; else the one the natural key already named.
    created: bool,
    stored: Stored,
}

/// Inserts the conversation unless the natural key (context, creator) names one already
/// (made with another key, or in another tab), and its first message unless its
/// `local_id` is stored there.
async fn write_conversation(
    tx: &mut Tx,
    intent: &NewConversation,
    user: &CurrentUser,
    agency: AgencyId,
) -> Result<Written, ApiError> {
    let row = conversations::NewConversationRow {
        id: db::time_ordered_id(),
        context_type: intent.context_type,
        context_id: intent.context_id,
        created_by: user.id,
        agency_id: agency,
        created_at: messaging_core::micros::from_time(db::now()),
    };
    let created = conversations::insert(&mut **tx, &row).await?;
    let conversation =
        conversations::by_natural_key(&mut **tx, intent.context_type, intent.context_id, user.id)
            .await?
            .ok_or_else(|| anyhow::anyhow!("Conversation missing after insert"))?;
    let stored = store_once(tx, conversation.id, user, &intent.initial_message).await?;
    Ok(Written {
        conversation,
        created,
        stored,
    })
}
