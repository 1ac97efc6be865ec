//! Reading conversations and messages, for their participants only: to anyone else a
//! conversation does not exist.

use super::Messaging;
use crate::db;
use crate::error::ApiError;
use messaging_core::wire::{
    Conversation, ConversationCursor, ConversationListQuery, Message, MessageCursor, Page,
    PageQuery, page_size,
};
use messaging_core::{ConversationId, LocalId, ProblemCode, UserId};

/// The reader's conversations, newest activity first; with a context, the "does one
/// exist?" check.
pub async fn conversations(
    messaging: &Messaging,
    reader: UserId,
    query: ConversationListQuery,
) -> Result<Page<Conversation>, ApiError> {
    let limit = page_size(query.limit);
    let filter = db::conversations::ListFilter {
        context_type: query.context_type,
        context_id: query.context_id,
        after: query.cursor,
        limit: limit + 1,
    };
    let items = db::conversations::list_for_user(messaging.db.pool(), reader, &filter).await?;
    Ok(page(items, limit, ConversationCursor::after))
}

/// The check of who may read or write in a conversation: to anyone but its participants
/// it does not exist (404). A participation is trusted from memory for
/// `cache::TRUST_FOR`, so a member removed from an agency may go on for that long.
/// [`conversation`] is the other way in: it reads the conversation for its participants
/// only, from the store, and tells the memory.
pub async fn ensure_participant(
    messaging: &Messaging,
    reader: UserId,
    id: ConversationId,
) -> Result<(), ApiError> {
    if messaging
        .caches
        .is_participant(&messaging.db, id, reader)
        .await?
    {
        Ok(())
    } else {
        Err(ApiError::not_found("conversation"))
    }
}

/// The conversation, if `reader` takes part in it.
pub async fn conversation(
    messaging: &Messaging,
    reader: UserId,
    id: ConversationId,
) -> Result<Option<Conversation>, ApiError> {
    let conversation = db::conversations::for_participant(messaging.db.pool(), id, reader).await?;
    if conversation.is_some() {
        messaging.caches.note_participant(id, reader);
    }
    Ok(conversation)
}

/// The conversation's message sent under `local_id`, if the server has it: how a client
/// learns whether a send whose answer it never got was stored.
pub async fn message_by_local_id(
    messaging: &Messaging,
    reader: UserId,
    id: ConversationId,
    local_id: &LocalId,
) -> Result<Option<Message>, ApiError> {
    ensure_participant(messaging, reader, id).await?;
    Ok(messaging
        .caches
        .stored_message(&messaging.db, id, local_id)
        .await?)
}

/// A page of the conversation's messages, in sequence: from the first, after `cursor`,
/// or just before `before`.
pub async fn messages(
    messaging: &Messaging,
    reader: UserId,
    id: ConversationId,
    query: PageQuery,
) -> Result<Page<Message>, ApiError> {
    ensure_participant(messaging, reader, id).await?;
    let limit = page_size(query.limit);
    match (query.cursor, query.before) {
        (Some(_), Some(_)) => Err(ApiError::new(
            ProblemCode::MalformedBody,
            "Ask for the page after `cursor` or before `before`, not both.",
        )),
        (after, None) => {
            let items = db::messages::page(messaging.db.pool(), id, after, limit + 1).await?;
            Ok(page(items, limit, MessageCursor::after))
        }
        (None, Some(before)) => {
            let items = db::messages::before(messaging.db.pool(), id, before, limit + 1).await?;
            Ok(older_page(items, limit))
        }
    }
}

/// The newest `limit` messages, oldest first: what a conversation opens on.
pub async fn latest_messages(
    messaging: &Messaging,
    reader: UserId,
    id: ConversationId,
    limit: u32,
) -> Result<Vec<Message>, ApiError> {
    ensure_participant(messaging, reader, id).await?;
    Ok(db::messages::latest(messaging.db.pool(), id, limit).await?)
}

/// A page of `limit` items out of `limit + 1` read: the extra one only says that a
/// next page exists, which starts after the last item kept.
fn page<T, C: ToString>(mut items: Vec<T>, limit: u32, cursor_after: impl Fn(&T) -> C) -> Page<T> {
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    let more = items.len() > limit;
    items.truncate(limit);
    let next_cursor = items
        .last()
        .filter(|_| more)
        .map(|last| cursor_after(last).to_string());
    Page {
        items,
        next_cursor,
        prev_cursor: None,
    }
}

/// A page of older messages: `limit` of the `limit + 1` read (in sequence), the extra one
/// at the front only saying that still older ones exist.
fn older_page(mut items: Vec<Message>, limit: u32) -> Page<Message> {
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    let more = items.len() > limit;
    if more {
        items.drain(..items.len() - limit);
    }
    let prev_cursor = items
        .first()
        .filter(|_| more)
        .map(|first| MessageCursor { seq: first.seq }.to_string());
    Page {
        items,
        next_cursor: None,
        prev_cursor,
    }
}
