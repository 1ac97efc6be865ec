//! The conversation view: its messages, live, and the composer. Its parts: the rows
//! (`message_row`), the composer, the older messages loaded in place (`older`) and the
//! catch-up after the live stream was interrupted (`catch_up`).

mod catch_up;
mod composer;
mod message_row;
mod older;

use catch_up::CatchUp;
use composer::{Composer, ComposerField};
use message_row::MessageRow;
use older::{LoadOlder, OlderMessages};

use crate::api::ApiClient;
use crate::labels::{fill, use_labels};
use crate::live;
use crate::outbox::Outbox;
use crate::timeline::{self, Merged, Row};
use leptos::html;
use leptos::prelude::*;
use messaging_core::wire::{Conversation, CurrentUser, Message, MessageCursor, StreamClosed};
use messaging_core::{ConversationId, LocalId};

/// A conversation: its messages in order (sender, time, device), new ones from the
/// others live, and a composer whose messages show at once as "sending", then "sent",
/// or "not sent" with a retry. Unsent messages wait in the [`Outbox`], so they survive a
/// reload; each is known by its `local_id`, so it never shows twice.
///
/// Server-rendered with a `form_action`, the composer also works without JavaScript: a
/// plain form posting `conversation_id`, `local_id` (the server-rendered
/// `form_local_id`) and `text` there, as `application/x-www-form-urlencoded`.
///
/// ```
/// use leptos::prelude::*;
/// use messaging_components::ConversationView;
/// use messaging_core::LocalId;
/// use messaging_core::wire::{Conversation, CurrentUser, Message};
///
/// #[component]
/// fn ConversationPage(
///     conversation: Conversation,
///     messages: Vec<Message>,
///     reader: CurrentUser,
/// ) -> impl IntoView {
///     view! {
///         <ConversationView
///             conversation
///             messages
///             reader
///             form_local_id=LocalId::generate()
///             form_action="/messages/post"
///         />
///     }
/// }
/// ```
#[component]
pub fn ConversationView(
    /// The conversation shown.
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
    /// Where the composer posts without JavaScript; without it there is no such form.
    #[prop(optional, into)]
    form_action: Option<String>,
    /// Where the API lives; empty for the same origin.
    #[prop(optional, into)]
    api_base: String,
    /// Where the page of older messages is, without JavaScript (`{before}` stands for
    /// the first shown message's `seq`); with it, they load in place. Without it there is
    /// no such link, only the button once hydrated.
    #[prop(optional_no_strip)]
    older_href: Option<String>,
    /// Called when the server ends the live stream for good (signed out, no longer a
    /// participant, opened elsewhere), after the view says so: an app may go to its
    /// sign-in page, say.
    #[prop(optional, into)]
    on_stream_closed: Option<Callback<StreamClosed>>,
) -> impl IntoView {
    let conversation_id = conversation.id;
    let client = ApiClient::new(api_base);
    let confirmed = RwSignal::new(messages);
    let api = StoredValue::new(client.clone());
    let catch_up = CatchUp::new(api, conversation_id, confirmed);
    // Whatever confirms a message (its send's answer, the stream, another tab) goes
    // through here: past a gap, the messages before it are fetched first.
    let merge = Callback::new(move |message: Message| {
        let merged =
            confirmed.try_update(|list| timeline::merge_confirmed(list, conversation_id, message));
        if merged == Some(Merged::Gap) {
            catch_up.run();
        }
    });
    let outbox = Outbox::new(reader.id, client.clone(), merge);

    // The box the list scrolls in (see `bring_own_new_messages_into_view`).
    let scroller = NodeRef::<html::Div>::new();

    let LiveState {
        closed: stream_closed,
        reconnecting,
    } = follow_live(LiveView {
        client: client.clone(),
        conversation_id,
        confirmed,
        merge,
        catch_up,
        scroller,
        on_stream_closed,
    });

    // A message taken back from the outbox for editing comes into the composer.
    let composer = ComposerField {
        text: RwSignal::new(form_text),
        field: NodeRef::new(),
    };
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

    let older = LoadOlder::new(api, conversation_id, confirmed, scroller);
    bring_own_new_messages_into_view(rows, scroller);

    let labels = use_labels();
    let closed_notice = {
        let labels = labels.clone();
        move || {
            stream_closed.get().map(|reason| {
                view! {
                    <p class="conversation__closed" role="status">
                        {labels.stream_closed(reason)}
                    </p>
                }
            })
        }
    };
    // Announced politely to screen readers; gone once live again.
    let reconnecting_notice = {
        let text = labels.reconnecting.to_string();
        move || {
            reconnecting.get().then(|| {
                view! {
                    <p class="conversation__status" role="status">
                        {text.clone()}
                    </p>
                }
            })
        }
    };
    // Type-erased (`into_any`): the whole view's type would otherwise nest deeper than
    // an app's default recursion limit allows when the app wraps it in its own views.
    let messages_list = view! {
        <div
            class="conversation__messages"
            node_ref=scroller
            on:scroll=move |_| older.near_the_top()
        >
            <ol class="messages" aria-live="polite" aria-label=labels.messages.to_string()>
                <ForEnumerate
                    each=move || rows.get()
                    key=|row| row.local_id.clone()
                    children=move |at, first| {
                        view! { <MessageRow first at rows outbox composer /> }
                    }
                />
            </ol>
        </div>
    }
    .into_any();
    view! {
        <section
            class="conversation"
            aria-label=fill(&labels.conversation, &[("title", &conversation.title)])
        >
            <OlderMessages older older_href />
            {messages_list}
            {reconnecting_notice}
            {closed_notice}
            <Composer conversation_id form_local_id composer form_action outbox />
        </section>
    }
}

/// What the live stream needs from the view.
struct LiveView {
    client: ApiClient,
    conversation_id: ConversationId,
    confirmed: RwSignal<Vec<Message>>,
    merge: Callback<Message>,
    catch_up: CatchUp,
    scroller: NodeRef<html::Div>,
    on_stream_closed: Option<Callback<StreamClosed>>,
}

/// How the live stream stands, for the view's notices.
struct LiveState {
    /// Why the server ended it for good, if it did.
    closed: RwSignal<Option<StreamClosed>>,
    /// Interrupted, and opening again.
    reconnecting: RwSignal<bool>,
}

/// Live messages; after each (re)connection, the ones that came meanwhile.
fn follow_live(view: LiveView) -> LiveState {
    let closed = RwSignal::new(None::<StreamClosed>);
    let reconnecting = RwSignal::new(false);
    Effect::new(move |_| {
        let handlers = live::Handlers {
            on_message: move |message| {
                keeping_the_reading_position(view.scroller, || view.merge.run(message));
            },
            on_connected: move || {
                reconnecting.set(false);
                view.catch_up.run();
            },
            on_interrupted: move || reconnecting.set(true),
            on_closed: move |reason| {
                reconnecting.set(false);
                closed.set(Some(reason));
                if let Some(callback) = view.on_stream_closed {
                    callback.run(reason);
                }
            },
        };
        // Each opening names the last message shown, so the stream starts after it.
        let client = view.client.clone();
        let url = move || {
            let after = view
                .confirmed
                .with_untracked(|list| list.last().map(MessageCursor::after));
            client.stream_url(view.conversation_id, after)
        };
        live::follow(url, handlers);
    });
    LiveState {
        closed,
        reconnecting,
    }
}

/// The list scrolls in a box laid out from its end (`flex-direction: column-reverse`
/// in the stylesheet), so the page opens at the newest message before any script runs
/// (and without JavaScript), hydration scrolls nothing, and older messages added at
/// the top leave the reading position where it was. A new message of the reader's
/// brings the view back to the end; someone else's shows by itself to a reader at the
/// end, and leaves one reading older messages where they are
/// ([`keeping_the_reading_position`]).
fn bring_own_new_messages_into_view(rows: Memo<Vec<Row>>, scroller: NodeRef<html::Div>) {
    Effect::new(move |shown: Option<Option<LocalId>>| {
        let (newest, own) = rows.with(|rows| {
            rows.last()
                .map(|row| (Some(row.local_id.clone()), row.own))
                .unwrap_or_default()
        });
        if let (Some(scroller), Some(shown)) = (scroller.get(), shown)
            && shown != newest
            && own
        {
            scroller.set_scroll_top(0);
        }
        newest
    });
}

/// Runs `add`, which adds a message at the end of the list, keeping a reader who is
/// reading older messages where they are: laid out from its end, the box would move by
/// the new message's height. A reader at the end (`scrollTop` 0) sees it come.
fn keeping_the_reading_position(scroller: NodeRef<html::Div>, add: impl FnOnce()) {
    let reading_older = scroller
        .get_untracked()
        .filter(|scroller| scroller.scroll_top() < 0)
        .map(|scroller| (scroller.scroll_height(), scroller));
    add();
    if let Some((height_before, scroller)) = reading_older {
        // The list is redrawn after this task, before the next frame is painted; by then
        // a message of the reader's own (sent from another tab) took the view to the end.
        request_animation_frame(move || {
            if scroller.scroll_top() < 0 {
                let added = scroller.scroll_height() - height_before;
                scroller.set_scroll_top(scroller.scroll_top() - added);
            }
        });
    }
}
