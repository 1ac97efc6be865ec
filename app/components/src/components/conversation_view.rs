use super::{DeviceIcon, Timestamp};
use crate::api::{ApiClient, DEFAULT_TIMEOUT, DeviceHints, sleep};
use crate::labels::{fill, use_labels};
use crate::live;
use crate::outbox::{Outbox, Pending};
use crate::timeline::{self, Delivery, Merged, Row};
use leptos::html;
use leptos::prelude::*;
use leptos::task::spawn_local;
use messaging_core::retry::Backoff;
use messaging_core::wire::{Conversation, CurrentUser, Message, MessageCursor, StreamClosed};
use messaging_core::{ConversationId, LocalId, MessageText};

/// At most this many pages are fetched to catch up after a reconnection.
const MAX_CATCH_UP_PAGES: usize = 20;

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
    let catch_up = CatchUp {
        client: StoredValue::new(client.clone()),
        conversation: conversation_id,
        confirmed,
        state: StoredValue::new(CatchUpState::Idle),
    };
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

    // The box the list scrolls in (see the effect below).
    let scroller = NodeRef::<html::Div>::new();

    // Live messages; after each (re)connection, the ones that came meanwhile.
    let stream_closed = RwSignal::new(None::<StreamClosed>);
    let reconnecting = RwSignal::new(false);
    Effect::new({
        let client = client.clone();
        move |_| {
            let handlers = live::Handlers {
                on_message: move |message| {
                    keeping_the_reading_position(scroller, || merge.run(message));
                },
                on_connected: move || {
                    reconnecting.set(false);
                    catch_up.run();
                },
                on_interrupted: move || reconnecting.set(true),
                on_closed: move |reason| {
                    reconnecting.set(false);
                    stream_closed.set(Some(reason));
                    if let Some(callback) = on_stream_closed {
                        callback.run(reason);
                    }
                },
            };
            // Each opening names the last message shown, so the stream starts after it.
            let client = client.clone();
            let url = move || {
                let after = confirmed.with_untracked(|list| list.last().map(MessageCursor::after));
                client.stream_url(conversation_id, after)
            };
            live::follow(url, handlers);
        }
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

    // The list scrolls in a box laid out from its end (`flex-direction: column-reverse`
    // in the stylesheet), so the page opens at the newest message before any script runs
    // (and without JavaScript), hydration scrolls nothing, and older messages added at
    // the top leave the reading position where it was. A new message of the reader's
    // brings the view back to the end; someone else's shows by itself to a reader at the
    // end, and leaves one reading older messages where they are (on_message above).
    let older = LoadOlder {
        client: catch_up.client,
        conversation: conversation_id,
        confirmed,
        scroller,
        loading: StoredValue::new(false),
    };
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

/// Loads the page of messages before the first one shown, in place (the scroller keeps
/// the reading position: it is laid out from its end). One load at a time.
#[derive(Clone, Copy)]
struct LoadOlder {
    client: StoredValue<ApiClient>,
    conversation: ConversationId,
    confirmed: RwSignal<Vec<Message>>,
    scroller: NodeRef<html::Div>,
    loading: StoredValue<bool>,
}

impl LoadOlder {
    /// The `seq` of the first message shown, when older ones exist.
    fn before(self) -> Option<u64> {
        self.confirmed
            .with(|list| list.first().map(|message| message.seq))
            .filter(|seq| *seq > 1)
    }

    fn run(self) {
        let (Some(before), Some(client)) = (
            self.confirmed
                .with_untracked(|list| list.first().map(|message| message.seq))
                .filter(|seq| *seq > 1),
            self.client.try_get_value(),
        ) else {
            return;
        };
        if self
            .loading
            .try_update_value(|loading| std::mem::replace(loading, true))
            != Some(false)
        {
            return;
        }
        spawn_local(async move {
            let page = client
                .older_messages(
                    self.conversation,
                    MessageCursor { seq: before },
                    DEFAULT_TIMEOUT,
                )
                .await;
            self.loading.try_set_value(false);
            if let Ok(page) = page {
                self.confirmed.update(|shown| {
                    for message in page.items {
                        timeline::merge_confirmed(shown, self.conversation, message);
                    }
                });
            } // Else the link stays; another click or scroll tries again.
        });
    }

    /// As the person scrolls the list to its top, the older messages come by themselves.
    fn near_the_top(self) {
        // Laid out from its end, the scroller's `scrollTop` is 0 at the end and negative
        // above it: the distance to the top is what is left of the scrollable height.
        let to_the_top = |scroller: &web_sys::HtmlDivElement| {
            scroller.scroll_height() - scroller.client_height() + scroller.scroll_top()
        };
        if self
            .scroller
            .get_untracked()
            .is_some_and(|scroller| to_the_top(&scroller) < 48)
        {
            self.run();
        }
    }
}

/// "Older messages", above the first shown message while there are older ones: a link to
/// `older_href` (the page of older messages) or, with no such page, a button; once
/// hydrated, either loads them in place (as does scrolling the list to its top).
#[component]
fn OlderMessages(older: LoadOlder, older_href: Option<String>) -> impl IntoView {
    let load = move |event: leptos::ev::MouseEvent| {
        event.prevent_default();
        older.run();
    };
    let labels = use_labels();
    move || {
        let before = older.before()?;
        let text = labels.older_messages.to_string();
        Some(match &older_href {
            Some(href) => {
                let href = href.replace("{before}", &before.to_string());
                view! {
                    <a class="conversation__older" href=href on:click=load>
                        {text}
                    </a>
                }
                .into_any()
            }
            None => view! {
                <button class="conversation__older" type="button" on:click=load>
                    {text}
                </button>
            }
            .into_any(),
        })
    }
}

/// Fetches what follows the last message shown: after a reconnection (the stream may
/// have missed some), or past a gap. One fetch at a time; asked again meanwhile, it goes
/// round once more when done.
#[derive(Clone, Copy)]
struct CatchUp {
    client: StoredValue<ApiClient>,
    conversation: ConversationId,
    confirmed: RwSignal<Vec<Message>>,
    state: StoredValue<CatchUpState>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum CatchUpState {
    Idle,
    Running,
    RunningAndAskedAgain,
}

impl CatchUp {
    fn run(self) {
        let start = self.state.try_update_value(|state| {
            let idle = *state == CatchUpState::Idle;
            *state = if idle {
                CatchUpState::Running
            } else {
                CatchUpState::RunningAndAskedAgain
            };
            idle
        });
        if start != Some(true) {
            return;
        }
        spawn_local(async move {
            loop {
                self.fetch().await;
                let again = self.state.try_update_value(|state| {
                    let again = *state == CatchUpState::RunningAndAskedAgain;
                    *state = if again {
                        CatchUpState::Running
                    } else {
                        CatchUpState::Idle
                    };
                    again
                });
                if again != Some(true) {
                    return;
                }
            }
        });
    }

    /// Pages through what follows the last shown message, up to [`MAX_CATCH_UP_PAGES`].
    /// A page that fails is asked again after `core`'s backoff, for as long as the view
    /// lives: a message past a gap (the reader's own, just confirmed, say) is shown only
    /// once the gap is fetched. A refusal no retry fixes ends it.
    async fn fetch(self) {
        let Some(client) = self.client.try_get_value() else {
            return;
        };
        let backoff = Backoff::until_it_works();
        let (mut pages, mut failures) = (0, 0);
        while pages < MAX_CATCH_UP_PAGES {
            let Some(after) = self
                .confirmed
                .try_with_untracked(|list| list.last().map(MessageCursor::after))
            else {
                return; // The view is gone.
            };
            let page = match client
                .messages(self.conversation, after.as_ref(), DEFAULT_TIMEOUT)
                .await
            {
                Ok(page) => page,
                Err(error) => {
                    let jitter = js_sys::Math::random();
                    let wait = backoff.delay(failures, error.failure, jitter, error.retry_after);
                    let Some(wait) = wait else {
                        return;
                    };
                    failures = failures.saturating_add(1);
                    sleep(wait).await;
                    continue;
                }
            };
            (pages, failures) = (pages + 1, 0);
            let complete = page.next_cursor.is_none();
            let merged = self.confirmed.try_update(|list| {
                for message in page.items {
                    timeline::merge_confirmed(list, self.conversation, message);
                }
            });
            if complete || merged.is_none() {
                return;
            }
        }
    }
}

/// The composer's text and its field, where a message taken back goes.
#[derive(Clone, Copy)]
struct ComposerField {
    text: RwSignal<String>,
    field: NodeRef<html::Textarea>,
}

impl ComposerField {
    /// Puts a message taken back into the composer, below a draft already there.
    fn take_in(self, text: String) {
        self.text.update(|draft| {
            *draft = if draft.trim().is_empty() {
                text
            } else {
                format!("{draft}\n{text}")
            };
        });
    }
}

/// Where the focus goes when the button that had it goes away (a message sent, retried,
/// cancelled): its row, or the composer when the row goes too (or the message is taken
/// back into it). Without this it falls to the page's start. Only if the person is still
/// there (on the row, or nowhere): some of these come after a wait (a lock, the server).
#[derive(Clone, Copy)]
struct FocusAfter {
    row: NodeRef<html::Li>,
    composer: ComposerField,
}

impl FocusAfter {
    fn to_row(self) {
        if let Some(row) = self.row_shown().filter(|_| self.still_here()) {
            let _ = row.focus();
        }
    }

    fn to_composer(self) {
        // `try_`: the view may be gone by now.
        if let Some(Some(field)) = self.composer.field.try_get_untracked()
            && self.still_here()
        {
            let _ = field.focus();
        }
    }

    /// Once the list is drawn again: to the row if it is still shown, else the composer.
    /// (After a timer, not an animation frame: frames wait while the page is hidden.)
    fn settle(self) {
        let settle = move || match self.row_shown() {
            Some(_) => self.to_row(),
            None => self.to_composer(),
        };
        set_timeout(settle, std::time::Duration::ZERO);
    }

    /// The row's element while it is in the page (its view may be gone, or going).
    fn row_shown(self) -> Option<web_sys::HtmlLiElement> {
        self.row
            .try_get_untracked()
            .flatten()
            .filter(|row| row.is_connected())
    }

    fn still_here(self) -> bool {
        let document = document();
        let Some(active) = document.active_element() else {
            return true;
        };
        document.body().is_some_and(|body| *body == active)
            || self
                .row_shown()
                .is_some_and(|row| row.contains(Some(&active)))
    }
}

/// One message. Its row is keyed by its `local_id` and follows the message as it goes
/// from sending to sent (or failed), so it stays the same element: the focus and a
/// notice in it stay too. `at` is its place in `rows`, which the list keeps up to date:
/// a row finds its message's latest state in one look, not a search of the list.
#[component]
fn MessageRow(
    first: Row,
    at: ReadSignal<usize>,
    rows: Memo<Vec<Row>>,
    outbox: Outbox,
    composer: ComposerField,
) -> impl IntoView {
    // What a message says, who wrote it and from where never change; its delivery does.
    let Row {
        local_id,
        own,
        text,
        sender,
        device,
        ..
    } = first.clone();
    let row = follow_its_message(first, at, rows);
    let element = NodeRef::<html::Li>::new();
    let too_late = RwSignal::new(false);
    let focus = FocusAfter {
        row: element,
        composer,
    };
    let labels = use_labels();
    let already_on_its_way = labels.already_on_its_way.to_string();
    let not_saved = labels.only_in_this_tab.to_string();
    // When it was sent, and how far it got, follow the message.
    let progress = {
        let local_id = local_id.clone();
        move || {
            let (sent_at, delivery, editable, only_in_this_tab) = row.with(|row| {
                let Row {
                    sent_at,
                    delivery,
                    editable,
                    only_in_this_tab,
                    ..
                } = row;
                (*sent_at, delivery.clone(), *editable, *only_in_this_tab)
            });
            let local_id = local_id.clone();
            let time = sent_at.map(|at| view! { <Timestamp at /> });
            let status = own.then(|| {
                view! { <DeliveryStatus delivery editable local_id outbox focus too_late /> }
            });
            let notice = if too_late.get() {
                Some(already_on_its_way.clone())
            } else if only_in_this_tab {
                Some(not_saved.clone())
            } else {
                None
            };
            let notice =
                notice.map(|notice| view! { <span class="message__notice">{notice}</span> });
            view! {
                {time}
                {status}
                {notice}
            }
            .into_any()
        }
    };
    view! {
        <li
            class="message"
            class:own=own
            tabindex=own.then_some("-1")
            node_ref=element
            data-local-id=local_id.to_string()
            data-delivery=move || row.with(|row| delivery_state(&row.delivery))
        >
            <div class="message__bubble">
                <p class="message__text">{text}</p>
            </div>
            <p class="message__meta">
                <span class="message__sender">{sender}</span>
                <DeviceIcon kind=device />
                {progress}
            </p>
        </li>
    }
}

/// The row's message as it changes: found by its place in `rows` (see [`MessageRow`]).
/// On the server a row is rendered once, as it was given: no memo to make, which on a
/// page of many rows is a good part of its rendering time.
fn follow_its_message(first: Row, at: ReadSignal<usize>, rows: Memo<Vec<Row>>) -> Signal<Row> {
    if cfg!(feature = "ssr") {
        return Signal::stored(first);
    }
    let local_id = first.local_id.clone();
    Memo::new_owning(move |last: Option<Row>| {
        // Just after a change the place may not be updated yet: then it reads again.
        let changed = rows.with(|rows| {
            let now = rows.get(at.get()).filter(|now| now.local_id == local_id)?;
            (Some(now) != last.as_ref()).then(|| now.clone())
        });
        match (changed, last) {
            (Some(now), _) => (now, true),
            // The same, or going: the list drops it next.
            (None, Some(last)) => (last, false),
            (None, None) => (first.clone(), true),
        }
    })
    .into()
}

/// The row's `data-delivery`, which the stylesheet and tests read.
fn delivery_state(delivery: &Delivery) -> &'static str {
    match delivery {
        Delivery::Sent => "sent",
        Delivery::Sending => "sending",
        Delivery::Waiting => "waiting",
        Delivery::Failed { .. } => "failed",
    }
}

/// How far one's own message got, with what the person can do about it: retry or
/// discard what the server refused; edit or cancel what no request has carried yet.
#[component]
fn DeliveryStatus(
    delivery: Delivery,
    editable: bool,
    local_id: LocalId,
    outbox: Outbox,
    focus: FocusAfter,
    too_late: RwSignal<bool>,
) -> impl IntoView {
    let labels = use_labels();
    let changes = editable.then(|| {
        view! { <TakeBack local_id=local_id.clone() outbox focus too_late /> }
    });
    match delivery {
        Delivery::Sent => {
            view! { <span class="delivery delivery--sent">{labels.sent.to_string()}</span> }
                .into_any()
        }
        Delivery::Sending => view! { <span class="delivery delivery--sending">{labels.sending.to_string()} {changes}</span> }
        .into_any(),
        Delivery::Waiting => view! {
            <span class="delivery delivery--waiting">
                {labels.waiting_for_earlier.to_string()} {changes}
            </span>
        }
        .into_any(),
        Delivery::Failed { reason, will_retry } => view! { <NotSent reason will_retry local_id outbox focus /> }
        .into_any(),
    }
}

/// A message whose last send failed, with Retry and Discard. Discarding one the server
/// refused just drops it; one being retried may have reached the server, so the server is
/// asked first (if it has it, it shows as sent).
#[component]
fn NotSent(
    reason: String,
    will_retry: bool,
    local_id: LocalId,
    outbox: Outbox,
    focus: FocusAfter,
) -> impl IntoView {
    let labels = use_labels();
    let cannot_ask = RwSignal::new(false);
    let local_id = StoredValue::new(local_id);
    let retry = move |_| {
        if let Some(local_id) = local_id.try_get_value() {
            // These buttons go once it is on its way again; the row stays.
            focus.to_row();
            outbox.retry(&local_id);
        }
    };
    let discard = move |_| {
        let Some(local_id) = local_id.try_get_value() else {
            return;
        };
        if !will_retry {
            focus.to_composer();
            outbox.discard(&local_id);
            return;
        }
        spawn_local(async move {
            let asked = outbox.discard_unless_stored(local_id).await;
            match asked {
                // Gone, or shown as sent: either way these buttons are gone.
                Ok(()) => focus.settle(),
                Err(_) => {
                    cannot_ask.try_set(true);
                }
            }
        });
    };
    let mut status = fill(&labels.not_sent, &[("reason", &reason)]);
    if will_retry {
        status = format!("{status} {}", labels.retrying_by_itself);
    }
    let needs_the_server = labels.discard_needs_the_server.to_string();
    view! {
        <span class="delivery delivery--failed" role="status">
            {status}
            " "
            <button type="button" class="button link" on:click=retry>
                {labels.retry.to_string()}
            </button>
            <button type="button" class="button link" on:click=discard>
                {labels.discard.to_string()}
            </button>
            {move || cannot_ask.get().then(|| format!(" {needs_the_server}"))}
        </span>
    }
}

/// "Edit" (back into the composer) and "Cancel" for a message no request has carried
/// yet. Either may come too late, when the message has just left: its row then says so
/// (these buttons are gone by then).
#[component]
fn TakeBack(
    local_id: LocalId,
    outbox: Outbox,
    focus: FocusAfter,
    too_late: RwSignal<bool>,
) -> impl IntoView {
    let labels = use_labels();
    let local_id = StoredValue::new(local_id);
    let take_back = move |into_composer: bool| {
        let Some(local_id) = local_id.try_get_value() else {
            return;
        };
        spawn_local(async move {
            match outbox.take_back(local_id).await {
                Some(text) if into_composer => {
                    focus.composer.take_in(text);
                    focus.to_composer();
                }
                Some(_) => focus.to_composer(),
                None => {
                    too_late.try_set(true);
                    focus.to_row();
                }
            }
        });
    };
    view! {
        " "
        <button type="button" class="button link" on:click=move |_| take_back(true)>
            {labels.edit.to_string()}
        </button>
        <button type="button" class="button link" on:click=move |_| take_back(false)>
            {labels.cancel.to_string()}
        </button>
    }
}

/// Writes a message. With JavaScript it goes to the outbox (shown at once, sent in the
/// background); without, the form posts to `form_action` with its server-rendered
/// local_id.
#[component]
fn Composer(
    conversation_id: ConversationId,
    form_local_id: LocalId,
    composer: ComposerField,
    form_action: Option<String>,
    outbox: Outbox,
) -> impl IntoView {
    let text = composer.text;
    let labels = use_labels();
    let touched = RwSignal::new(false);
    // The next message's local_id; a new one once a message is in the outbox.
    let local_id = RwSignal::new(form_local_id);
    let problem = {
        let labels = labels.clone();
        move || {
            MessageText::parse(&text.get())
                .err()
                .map(|e| labels.text_problem(&e))
        }
    };
    let shown_problem = {
        let problem = problem.clone();
        move || touched.get().then(&problem).flatten()
    };

    let send = move || {
        touched.set(true);
        let Ok(message) = MessageText::parse(&text.get_untracked()) else {
            return;
        };
        outbox.push(Pending::new(
            conversation_id,
            local_id.get_untracked(),
            message.to_string(),
            DeviceHints::of_this_browser(),
        ));
        local_id.set(LocalId::generate());
        text.set(String::new());
        touched.set(false);
    };
    // Posted only without JavaScript, so only where a form action was given.
    let no_script_fields = form_action.is_some().then(|| {
        view! {
            <input type="hidden" name="conversation_id" value=conversation_id.to_string() />
            <input type="hidden" name="local_id" value=move || local_id.get().to_string() />
        }
    });

    view! {
        <form
            class="composer"
            method=form_action.as_ref().map(|_| "post")
            action=form_action
            on:submit=move |event| {
                event.prevent_default();
                send();
            }
        >
            {no_script_fields}
            <label class="field composer__field">
                <span class="visually-hidden">{labels.your_message.to_string()}</span>
                <textarea
                    node_ref=composer.field
                    name="text"
                    rows="2"
                    required
                    placeholder=labels.write_a_message.to_string()
                    aria-invalid=move || (touched.get() && problem().is_some()).to_string()
                    aria-describedby="composer-error"
                    prop:value=move || text.get()
                    on:input=move |event| text.set(event_target_value(&event))
                    on:keydown=move |event| {
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
                {labels.send.to_string()}
            </button>
            <p id="composer-error" class="field__error composer__error" role="alert">
                {shown_problem}
            </p>
        </form>
    }
}
