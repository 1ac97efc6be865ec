use super::{FailedPostNotice, SignInFirst, sign_in_href};
use crate::data::{FormIntent, PostChatMessage, ReturnedForm, get_conversation, signed_in_user};
use leptos::prelude::*;
use leptos::server_fn::ServerFn;
use leptos_router::hooks::{use_params_map, use_query_map};
use messaging_components::islands::{ConversationIsland, UnsentInIsland};
use messaging_core::ConversationId;

/// One conversation, for its participants.
#[component]
pub fn ConversationPageView() -> impl IntoView {
    let raw_id = move || use_params_map().with(|p| p.get("id")).unwrap_or_default();
    // `?before=N`: the page of messages before number N (the no-JavaScript "Older
    // messages" link); without it, the newest.
    let before = move || {
        use_query_map()
            .with(|query| query.get("before"))
            .and_then(|before| before.parse::<u64>().ok())
    };
    let page = Resource::new(
        move || (raw_id(), before()),
        |(id, before)| async move {
            match id.parse::<ConversationId>() {
                Ok(id) => get_conversation(id, before).await,
                Err(_) => Ok(None),
            }
        },
    );
    let user = Resource::new(|| (), |()| signed_in_user());
    let intent = Resource::new(|| (), |()| async { FormIntent::generate() });
    let returned = ReturnedForm::from_query();

    view! {
        <Suspense fallback=|| {
            view! { <p class="muted">"Loading…"</p> }
        }>
            {move || {
                let returned = returned.clone();
                Suspend::new(async move {
                    let Ok(Some(reader)) = user.await else {
                        return view! { <SignInFirst next=format!("/conversations/{}", raw_id()) /> }
                            .into_any();
                    };
                    match page.await {
                        Ok(Some(page)) => {
                            let local_id = returned.local_id.unwrap_or(intent.await.local_id);
                            view! {
                                <header class="page__header">
                                    <p class="muted">
                                        <a href="/conversations">"Your conversations"</a>
                                    </p>
                                    <h1>{page.conversation.title_for(page.reader.id)}</h1>
                                    <p class="muted">
                                        {format!(
                                            "Started by {}",
                                            page.conversation.created_by.display_name,
                                        )}
                                    </p>
                                </header>
                                <FailedPostNotice error=returned.error />
                                <ConversationIsland
                                    conversation=page.conversation
                                    messages=page.messages
                                    reader=page.reader
                                    form_local_id=local_id
                                    form_text=returned.text
                                    form_action=PostChatMessage::url().to_owned()
                                    sign_in_href=sign_in_href(
                                        &format!("/conversations/{}", raw_id()),
                                    )
                                    older_href=format!(
                                        "/conversations/{}?before={{before}}",
                                        raw_id(),
                                    )
                                />
                                {before()
                                    .map(|_| {
                                        view! {
                                            <a
                                                class="pager"
                                                href=format!("/conversations/{}", raw_id())
                                            >
                                                "Newest messages"
                                            </a>
                                        }
                                    })}
                            }
                                .into_any()
                        }
                        Ok(None) => {
                            #[cfg(feature = "ssr")]
                            if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
                                response.set_status(http::StatusCode::NOT_FOUND);
                            }
                            let unsent = raw_id()
                                .parse::<ConversationId>()
                                .ok()
                                .map(|conversation| {
                                    // Messages written here before may still wait in the outbox.
                                    view! { <UnsentInIsland user=reader.id conversation /> }
                                });
                            view! {
                                <h1>"Conversation not found"</h1>
                                <p>"It does not exist, or you are not one of its participants."</p>
                                {unsent}
                            }
                                .into_any()
                        }
                        Err(_) => {
                            view! {
                                <p class="notice error">"Could not load this conversation."</p>
                            }
                                .into_any()
                        }
                    }
                })
            }}
        </Suspense>
    }
}
