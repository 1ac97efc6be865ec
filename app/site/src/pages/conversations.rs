use super::SignInFirst;
use crate::data::{list_conversations, signed_in_user};
use leptos::prelude::*;
use messaging_components::Timestamp;
use messaging_core::UserId;
use messaging_core::wire::Conversation;

/// The signed-in user's conversations, newest activity first.
#[component]
pub fn ConversationsPage() -> impl IntoView {
    let conversations = Resource::new(|| (), |()| list_conversations());
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
                    Ok(Some(list)) if list.is_empty() => {
                        view! {
                            <p class="card">
                                "No conversations yet. " <a href="/agencies">"Contact an agency"</a>
                            </p>
                        }
                            .into_any()
                    }
                    Ok(Some(list)) => {
                        let reader = reader.await.ok().flatten().map(|user| user.id);
                        view! {
                            <ul class="card-list">
                                {list
                                    .into_iter()
                                    .map(|c| conversation_item(c, reader))
                                    .collect_view()}
                            </ul>
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
