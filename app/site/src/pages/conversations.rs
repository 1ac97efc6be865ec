use super::SignInFirst;
use crate::data::{list_conversations, signed_in_user};
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;
use messaging_components::Timestamp;
use messaging_core::UserId;
use messaging_core::wire::Conversation;

/// The signed-in user's conversations, newest activity first, a page at a time (plain
/// links from one page to the next, so every conversation can be reached, script or not).
#[component]
pub fn ConversationsPage() -> impl IntoView {
    let cursor = move || use_query_map().with(|query| query.get("cursor"));
    let conversations = Resource::new(cursor, list_conversations);
    let reader = Resource::new(|| (), |()| signed_in_user());
    view! {
        <header class="page__header">
            <h1>"Your conversations"</h1>
        </header>
        <Suspense fallback=|| {
            view! { <p class="muted">"Loading…"</p> }
        }>
            {move || Suspend::new(async move {
                match conversations.await {
                    Ok(None) => view! { <SignInFirst next="/conversations" /> }.into_any(),
                    Ok(Some(page)) if page.items.is_empty() && cursor().is_none() => {
                        view! {
                            <p class="card">
                                "No conversations yet. " <a href="/agencies">"Contact an agency"</a>
                            </p>
                        }
                            .into_any()
                    }
                    Ok(Some(page)) => {
                        let reader = reader.await.ok().flatten().map(|user| user.id);
                        let next = page
                            .next_cursor
                            .map(|next| {
                                view! {
                                    <a class="pager" href=format!("/conversations?cursor={next}")>
                                        "Older conversations"
                                    </a>
                                }
                            });
                        let first = cursor()
                            .map(|_| {
                                view! {
                                    <a class="pager" href="/conversations">
                                        "Latest conversations"
                                    </a>
                                }
                            });
                        view! {
                            <ul class="card-list">
                                {page
                                    .items
                                    .into_iter()
                                    .map(|c| conversation_item(c, reader))
                                    .collect_view()}
                            </ul>
                            <nav class="pagination" aria-label="Conversation pages">
                                {first}
                                {next}
                            </nav>
                        }
                            .into_any()
                    }
                    Err(_) => {
                        view! { <p class="notice error">"Could not load your conversations."</p> }
                            .into_any()
                    }
                }
            })}
        </Suspense>
    }
}

fn conversation_item(conversation: Conversation, reader: Option<UserId>) -> impl IntoView {
    let title = reader.map_or_else(
        || conversation.title.clone(),
        |reader| conversation.title_for(reader),
    );
    view! {
        <li class="card conversation-item">
            <h2>
                <a href=format!("/conversations/{}", conversation.id)>{title}</a>
            </h2>
            <p class="muted">
                {format!("Started by {} · last message ", conversation.created_by.display_name)}
                <Timestamp at=conversation.last_message_at />
            </p>
        </li>
    }
}
