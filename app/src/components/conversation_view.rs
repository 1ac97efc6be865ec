use super::{DeviceIcon, Timestamp};
use crate::api::{ApiClient, DEFAULT_TIMEOUT};
use crate::data::PostChatMessage;
use crate::live;
use crate::outbox::{Outbox, Pending};
use crate::timeline::{self, Delivery, Row};
use leptos::html;
use leptos::prelude::*;
use leptos::server_fn::ServerFn;
use leptos::task::spawn_local;
use messaging_core::wire::{Conversation, CurrentUser, Message, MessageCursor};
use messaging_core::{ConversationId, LocalId, MessageText};

/// At most this many pages are fetched to catch up after a reconnection.
const MAX_CATCH_UP_PAGES: usize = 20;

/// A conversation: its messages in order (sender, time, device), new ones from the
/// others live, and a composer whose messages show at once as "sending", then "sent",
/// or "failed" with a retry. Unsent messages wait in the [`Outbox`], so they survive a
/// reload; each is known by its `local_id`, so it never shows twice.
///
/// Without JavaScript the composer is a plain form posting to the `post_chat_message`
/// server function with the server-rendered `form_local_id`.
#[component]
pub fn ConversationView(
    conversation: Conversation,
    /// The messages the page was rendered with, oldest first.
    messages: Vec<Message>,
    /// Who is reading (their messages are "own", and the outbox is theirs).
    reader: CurrentUser,
    /// The `local_id` the composer starts with (rendered by the server, for the form).
    form_local_id: LocalId,
    /// Text the composer starts with (a failed post without JavaScript brings it back).
    #[prop(optional, into)]
    form_text: String,
    /// Where the API lives; empty for the same origin.
    #[prop(optional, into)]
    api_base: String,
) -> impl IntoView {
    let conversation_id = conversation.id;
    let client = ApiClient::new(api_base);
    let confirmed = RwSignal::new(messages);
    let merge = Callback::new(move |message: Message| {
        confirmed.update(|list| timeline::merge_confirmed(list, conversation_id, message));
    });
    let outbox = Outbox::new(reader.id, client.clone(), merge);

    // Live messages; after each (re)connection, the ones that came meanwhile.
    Effect::new({
        let client = client.clone();
        move |_| {
            let catch_up_client = client.clone();
            live::follow(
                &client.stream_url(conversation_id),
                move |message| merge.run(message),
                move || catch_up(catch_up_client.clone(), conversation_id, confirmed, merge),
            );
        }
    });

    let reader_id = reader.id;
    let reader_name = reader.display_name.clone();
    let rows = Memo::new(move |_| {
        timeline::rows(
            &confirmed.read(),
            &outbox.entries().read(),
            conversation_id,
            reader_id,
            &reader_name,
        )
    });

    // Keep the newest message in view.
    let list = NodeRef::<html::Ol>::new();
    Effect::new(move |_| {
        let count = rows.with(Vec::len);
        if let Some(list) = list.get() {
            list.set_scroll_top(list.scroll_height());
        }
        count
    });

    view! {
        <section class="conversation" aria-label=format!("Conversation: {}", conversation.title)>
            <ol class="messages" node_ref=list aria-live="polite" aria-label="Messages">
                <For each=move || rows.get() key=Row::clone let:row>
                    <MessageRow row outbox />
                </For>
            </ol>
            <Composer conversation_id form_local_id form_text outbox />
        </section>
    }
}

/// Fetches the messages after the newest one shown (the live stream may have missed
/// them while it was reconnecting).
fn catch_up(
    client: ApiClient,
    conversation: ConversationId,
    confirmed: RwSignal<Vec<Message>>,
    merge: Callback<Message>,
) {
    let Some(mut cursor) =
        confirmed.try_with_untracked(|list| list.last().map(MessageCursor::after))
    else {
        return;
    };
    spawn_local(async move {
        for _ in 0..MAX_CATCH_UP_PAGES {
            let Ok(page) = client
                .messages(conversation, cursor.as_ref(), DEFAULT_TIMEOUT)
                .await
            else {
                return; // The next reconnection tries again.
            };
            for message in page.items {
                merge.try_run(message);
            }
            match page.next_cursor.as_deref().map(MessageCursor::parse) {
                Some(next @ Some(_)) => cursor = next,
                _ => return,
            }
        }
    });
}

#[component]
fn MessageRow(row: Row, outbox: Outbox) -> impl IntoView {
    let time = row.sent_at.map(|at| view! { <Timestamp at /> });
    let delivery = row.delivery.clone();
    let state = match &delivery {
        Delivery::Sent => "sent",
        Delivery::Sending => "sending",
        Delivery::Failed { .. } => "failed",
    };
    let status = row
        .own
        .then(|| delivery_view(delivery, row.local_id.clone(), outbox));
    view! {
        <li
            class="message"
            class:own=row.own
            data-local-id=row.local_id.to_string()
            data-delivery=state
        >
            <div class="message__bubble">
                <p class="message__text">{row.text}</p>
            </div>
            <p class="message__meta">
                <span class="message__sender">{row.sender}</span>
                <DeviceIcon kind=row.device />
                {time}
                {status}
            </p>
        </li>
    }
}

fn delivery_view(delivery: Delivery, local_id: LocalId, outbox: Outbox) -> impl IntoView {
    match delivery {
        Delivery::Sent => view! { <span class="delivery delivery--sent">"Sent"</span> }.into_any(),
        Delivery::Sending => {
            view! { <span class="delivery delivery--sending">"Sending…"</span> }.into_any()
        }
        Delivery::Failed { reason, will_retry } => {
            let retry_id = local_id.clone();
            let discard = (!will_retry).then(|| {
                view! {
                    <button
                        type="button"
                        class="button link"
                        on:click=move |_| outbox.discard(&local_id)
                    >
                        "Discard"
                    </button>
                }
            });
            let note = if will_retry {
                " Retrying by itself."
            } else {
                ""
            };
            view! {
                <span class="delivery delivery--failed" role="status">
                    {format!("Not sent: {reason}{note}")}
                    " "
                    <button type="button" class="button link" on:click=move |_| outbox.retry(&retry_id)>
                        "Retry"
                    </button>
                    {discard}
                </span>
            }
                .into_any()
        }
    }
}

/// Writes a message. With JavaScript it goes to the outbox (shown at once, sent in the
/// background); without, the form posts to the server with its server-rendered local_id.
#[component]
fn Composer(
    conversation_id: ConversationId,
    form_local_id: LocalId,
    form_text: String,
    outbox: Outbox,
) -> impl IntoView {
    let text = RwSignal::new(form_text);
    let touched = RwSignal::new(false);
    // The next message's local_id; a new one once a message is in the outbox.
    let local_id = RwSignal::new(form_local_id);
    let validation = move || MessageText::parse(&text.get()).err().map(|e| e.to_string());

    let send = move || {
        touched.set(true);
        let Ok(message) = MessageText::parse(&text.get_untracked()) else {
            return;
        };
        outbox.push(Pending::new(
            conversation_id,
            local_id.get_untracked(),
            message.to_string(),
            window().navigator().user_agent().ok(),
        ));
        local_id.set(LocalId::generate());
        text.set(String::new());
        touched.set(false);
    };

    view! {
        <form
            class="composer"
            method="post"
            action=PostChatMessage::url()
            on:submit=move |event| {
                event.prevent_default();
                send();
            }
        >
            <input type="hidden" name="conversation_id" value=conversation_id.to_string() />
            <input type="hidden" name="local_id" value=move || local_id.get().to_string() />
            <label class="field composer__field">
                <span class="visually-hidden">"Your message"</span>
                <textarea
                    name="text"
                    rows="2"
                    required
                    placeholder="Write a message…"
                    aria-invalid=move || (touched.get() && validation().is_some()).to_string()
                    aria-describedby="composer-error"
                    prop:value=move || text.get()
                    on:input=move |event| text.set(event_target_value(&event))
                    on:keydown=move |event| {
                        // Enter sends, Shift+Enter is a new line (not while an IME composes).
                        if event.key() == "Enter" && !event.shift_key() && !event.is_composing() {
                            event.prevent_default();
                            send();
                        }
                    }
                >
                    {text.get_untracked()}
                </textarea>
            </label>
            <button type="submit" class="button primary">
                "Send"
            </button>
            <p id="composer-error" class="field__error composer__error" role="alert">
                {move || touched.get().then(validation).flatten()}
            </p>
        </form>
    }
}
