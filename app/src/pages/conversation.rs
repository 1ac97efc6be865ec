use crate::data::{ConversationPage, get_conversation};
use leptos::prelude::*;
use leptos_router::hooks::use_params_map;
use messaging_core::ConversationId;
use messaging_core::wire::Message;

/// One conversation: its messages in order, each with sender, time and device.
#[component]
pub fn ConversationPageView() -> impl IntoView {
    let id = move || {
        use_params_map()
            .with(|p| p.get("id"))
            .and_then(|id| id.parse::<ConversationId>().ok())
    };
    let page = Resource::new(id, |id| async move {
        match id {
            Some(id) => get_conversation(id).await,
            None => Ok(None),
        }
    });

    view! {
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match page.await {
                    Ok(Some(page)) => conversation_view(page).into_any(),
                    Ok(None) => {
                        view! {
                            <h1>"Conversation not found"</h1>
                            <p>
                                "It does not exist, or you are not signed in as one of its participants. "
                                <a href="/sign-in">"Sign in"</a>
                            </p>
                        }
                            .into_any()
                    }
                    Err(_) => view! { <p class="notice error">"Could not load this conversation."</p> }.into_any(),
                }
            })}
        </Suspense>
    }
}

fn conversation_view(page: ConversationPage) -> impl IntoView {
    let ConversationPage {
        conversation,
        messages,
        reader,
    } = page;
    view! {
        <header class="page__header">
            <p class="muted">
                <a href="/agencies">"Agencies"</a>
            </p>
            <h1>{conversation.title}</h1>
            <p class="muted">{format!("Started by {}", conversation.created_by.display_name)}</p>
        </header>
        <ol class="messages" aria-label="Messages">
            {messages.into_iter().map(|message| message_view(message, reader.id)).collect_view()}
        </ol>
    }
}

fn message_view(message: Message, reader: messaging_core::UserId) -> impl IntoView {
    let own = message.sender.id == reader;
    let device = message.display_data.device_kind;
    let time = message
        .created_at
        .format(&time::macros::format_description!(
            "[year]-[month]-[day] [hour]:[minute] UTC"
        ))
        .unwrap_or_default();
    view! {
        <li class="message" class:own=own data-local-id=message.local_id.to_string()>
            <p class="message__meta">
                <span class="message__sender">{message.sender.display_name}</span>
                <span class=format!("device device--{}", device.as_str()) title=device.label() aria-label=device.label()></span>
                <time datetime=message.created_at.format(&time::format_description::well_known::Rfc3339).unwrap_or_default()>{time}</time>
            </p>
            <p class="message__text">{message.text}</p>
        </li>
    }
}
