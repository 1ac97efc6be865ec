//! One message's row: its text, sender, device, time and delivery, with what the person
//! can do about their own (retry, discard, edit, cancel).

use super::composer::ComposerField;
use crate::components::{DeviceIcon, Timestamp};
use crate::labels::{fill, use_labels};
use crate::outbox::Outbox;
use crate::timeline::{Delivery, Row};
use leptos::html;
use leptos::prelude::*;
use leptos::task::spawn_local;
use messaging_core::LocalId;

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
pub(super) fn MessageRow(
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
