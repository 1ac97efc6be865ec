//! What "Send message" and its compose dialog do, without the DOM: plain state machines
//! the components drive and native tests check.

use crate::api::{CallError, DeviceHints};
use crate::labels::Labels;
use messaging_core::wire::{
    ContextType, Conversation, CreateConversationRequest, CreateConversationResponse,
    InitialMessage,
};
use messaging_core::{
    AgencyId, ConversationId, DedupReason, IdempotencyKey, LocalId, MessageText, MessageTextError,
};

/// The button's existence check: one at a time, never while the dialog is open, and none
/// once the dialog has been opened: it keeps its draft and the names of its intent, and
/// a check then (say one that finds the conversation made meanwhile) would lead away from
/// a message written but not stored. Its send merges into a conversation that exists.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ExistenceCheck {
    running: bool,
    composed: bool,
}

/// What a click on the button does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Click {
    /// Check whether a conversation exists, then open it or the dialog.
    Check,
    /// Open the dialog again, as it was left.
    Reopen,
    /// Nothing: a check is running, or the dialog is open.
    Nothing,
}

/// Where the button leads once the check is over.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AfterCheck {
    /// A conversation exists: go there.
    Open(ConversationId),
    /// None, or the check failed or timed out: let the person write anyway (the send is
    /// idempotent, so a conversation the check missed is merged, not duplicated).
    Compose,
}

impl ExistenceCheck {
    /// A click: what it does.
    pub fn click(&mut self, dialog_open: bool) -> Click {
        if self.running || dialog_open {
            return Click::Nothing;
        }
        if self.composed {
            return Click::Reopen;
        }
        self.running = true;
        Click::Check
    }

    /// The check's outcome, and where it leads.
    pub fn finish(&mut self, found: Result<Option<Conversation>, CallError>) -> AfterCheck {
        self.running = false;
        match found {
            Ok(Some(conversation)) => AfterCheck::Open(conversation.id),
            Ok(None) | Err(_) => {
                self.composed = true;
                AfterCheck::Compose
            }
        }
    }

    /// The check could not run (the dialog's code did not load): the button is free again.
    pub fn abandon(&mut self) {
        self.running = false;
    }

    /// A check is running (the button says so).
    pub fn is_running(&self) -> bool {
        self.running
    }
}

/// What the dialog is doing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SendState {
    /// Being written (also after a success, for a next message).
    Editing,
    /// A send is in flight (with its automatic retries).
    Sending,
    /// The last send failed; sending again retries the same intent.
    Failed(CallError),
    /// The conversation existed already; the person is told before going there.
    AlreadyContacted(ConversationId),
}

/// The compose dialog: the text, and the names of this intent. The message's `local_id`
/// is made once and, with the button's key, reused by every retry, so a retry can never
/// store a second copy. Editing after a try, or writing again after a success, is a new
/// intent with a new key and `local_id` (the old ones with other text would get 422).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Compose {
    text: String,
    /// Typed into (or sent), so a broken rule is worth showing.
    touched: bool,
    state: SendState,
    key: IdempotencyKey,
    local_id: LocalId,
    /// A send was tried: from then on the key and local_id name this text.
    attempted: bool,
}

/// What a send carries; the same on every retry of one intent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Send {
    /// The `Idempotency-Key` header.
    pub key: IdempotencyKey,
    /// The body, its message under the intent's `local_id`.
    pub request: CreateConversationRequest,
}

impl Compose {
    /// With the key the button made when it mounted.
    pub fn new(key: IdempotencyKey) -> Self {
        Self {
            text: String::new(),
            touched: false,
            state: SendState::Editing,
            key,
            local_id: LocalId::generate(),
            attempted: false,
        }
    }

    /// What is written.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// What the dialog is doing.
    pub fn state(&self) -> &SendState {
        &self.state
    }

    /// The message's name in this intent.
    pub fn local_id(&self) -> &LocalId {
        &self.local_id
    }

    /// A send is in flight.
    pub fn is_sending(&self) -> bool {
        self.state == SendState::Sending
    }

    /// The rule the text breaks, once the person has typed: `core`'s own check, the one
    /// the server makes.
    pub fn problem(&self) -> Option<MessageTextError> {
        if !self.touched {
            return None;
        }
        MessageText::parse(&self.text).err()
    }

    /// Whether the send button is enabled.
    pub fn can_send(&self) -> bool {
        !self.is_sending() && self.problem().is_none()
    }

    /// The send button's text.
    pub fn button_label<'a>(&self, labels: &'a Labels) -> &'a str {
        match self.state {
            SendState::Sending => &labels.sending,
            SendState::Failed(_) => &labels.retry,
            SendState::Editing | SendState::AlreadyContacted(_) => &labels.send,
        }
    }

    /// The person typed; after a tried send that makes a new intent.
    pub fn edit(&mut self, text: String) {
        self.text = text;
        self.touched = true;
        if self.attempted {
            self.start_new_intent();
            self.state = SendState::Editing;
        }
    }

    /// Starts a send (or the retry of a failed one), unless one is running or the text
    /// breaks a rule.
    pub fn send(
        &mut self,
        context_type: ContextType,
        context_id: AgencyId,
        device: DeviceHints,
    ) -> Option<Send> {
        if self.is_sending() {
            return None;
        }
        self.touched = true;
        let text = MessageText::parse(&self.text).ok()?;
        self.attempted = true;
        self.state = SendState::Sending;
        Some(Send {
            key: self.key.clone(),
            request: CreateConversationRequest {
                context_type,
                context_id: *context_id.as_uuid(),
                initial_message: InitialMessage {
                    text: text.to_string(),
                    local_id: self.local_id.to_string(),
                    user_agent: device.user_agent,
                    max_touch_points: device.max_touch_points,
                },
            },
        })
    }

    /// The server's answer; returns the conversation to go to when the dialog is done.
    pub fn answered(
        &mut self,
        answer: Result<CreateConversationResponse, CallError>,
    ) -> Option<ConversationId> {
        match answer {
            Ok(response) if response.dedup == Some(DedupReason::NaturalKey) => {
                self.state = SendState::AlreadyContacted(response.conversation.id);
                None
            }
            Ok(response) => {
                *self = Self::new(IdempotencyKey::generate());
                Some(response.conversation.id)
            }
            Err(error) => {
                self.state = SendState::Failed(error);
                None
            }
        }
    }

    fn start_new_intent(&mut self) {
        self.key = IdempotencyKey::generate();
        self.local_id = LocalId::generate();
        self.attempted = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use messaging_core::retry::Failure;
    use messaging_core::wire::Participant;
    use messaging_core::{MessageId, UserId};
    use time::OffsetDateTime;

    const AGENCY: AgencyId = AgencyId::from_uuid(uuid::Uuid::nil());

    fn conversation() -> Conversation {
        let at = OffsetDateTime::UNIX_EPOCH;
        Conversation {
            id: ConversationId::new_random(),
            context_type: ContextType::AgencyInquiry,
            context_id: uuid::Uuid::nil(),
            title: "Northwind Travel".into(),
            created_by: Participant {
                id: UserId::new_random(),
                display_name: "Alice".into(),
            },
            created_at: at,
            last_message_at: at,
        }
    }

    fn response(send: &Send, dedup: Option<DedupReason>) -> CreateConversationResponse {
        let conversation = conversation();
        let message = messaging_core::wire::Message {
            id: MessageId::new_random(),
            conversation_id: conversation.id,
            seq: 1,
            local_id: LocalId::parse(&send.request.initial_message.local_id).expect("local id"),
            sender: conversation.created_by.clone(),
            text: send.request.initial_message.text.clone(),
            created_at: conversation.created_at,
            display_data: messaging_core::device::DisplayData::from_user_agent(None),
        };
        CreateConversationResponse {
            conversation,
            message,
            dedup,
            key_expires_at: OffsetDateTime::UNIX_EPOCH,
        }
    }

    fn timed_out() -> CallError {
        CallError {
            failure: Failure::Timeout,
            problem: None,
            retry_after: None,
        }
    }

    fn typed(text: &str) -> Compose {
        let mut compose = Compose::new(IdempotencyKey::generate());
        compose.edit(text.into());
        compose
    }

    fn send(compose: &mut Compose) -> Send {
        compose
            .send(ContextType::AgencyInquiry, AGENCY, DeviceHints::default())
            .expect("a send")
    }

    #[test]
    fn one_check_at_a_time_and_none_while_the_dialog_is_open() {
        let mut check = ExistenceCheck::default();
        assert_eq!(check.click(true), Click::Nothing);
        assert_eq!(check.click(false), Click::Check);
        assert_eq!(
            check.click(false),
            Click::Nothing,
            "a second click while checking"
        );
        assert_eq!(check.finish(Ok(None)), AfterCheck::Compose);
        assert!(!check.is_running());
    }

    #[test]
    fn a_check_abandoned_lets_the_next_click_start_another() {
        let mut check = ExistenceCheck::default();
        assert_eq!(check.click(false), Click::Check);
        check.abandon();
        assert!(!check.is_running());
        assert_eq!(check.click(false), Click::Check);
    }

    #[test]
    fn a_found_conversation_opens_and_a_failed_check_composes_anyway() {
        let mut check = ExistenceCheck::default();
        let found = conversation();
        check.click(false);
        assert_eq!(
            check.finish(Ok(Some(found.clone()))),
            AfterCheck::Open(found.id)
        );
        check.click(false);
        assert_eq!(check.finish(Err(timed_out())), AfterCheck::Compose);
    }

    #[test]
    fn once_the_dialog_has_opened_a_click_opens_it_again_without_a_check() {
        let mut check = ExistenceCheck::default();
        check.click(false);
        check.finish(Ok(None));
        assert_eq!(check.click(true), Click::Nothing);
        assert_eq!(check.click(false), Click::Reopen);
        assert!(!check.is_running());
    }

    #[test]
    fn a_retry_after_a_failure_carries_the_same_key_and_local_id() {
        let mut compose = typed("Hello");
        let first = send(&mut compose);
        assert_eq!(compose.answered(Err(timed_out())), None);
        assert_eq!(compose.button_label(&Labels::default()), "Retry");
        let retry = send(&mut compose);
        assert_eq!(retry, first);
    }

    #[test]
    fn editing_after_a_try_is_a_new_intent() {
        let mut compose = typed("Hello");
        let first = send(&mut compose);
        compose.answered(Err(timed_out()));
        compose.edit("Hello again".into());
        assert_eq!(compose.state(), &SendState::Editing);
        let second = send(&mut compose);
        assert_ne!(second.key, first.key);
        assert_ne!(
            second.request.initial_message.local_id,
            first.request.initial_message.local_id
        );
    }

    #[test]
    fn nothing_is_sent_twice_at_once_nor_with_a_broken_rule() {
        let mut compose = typed("Hello");
        send(&mut compose);
        assert!(compose.is_sending() && !compose.can_send());
        assert_eq!(
            compose.send(ContextType::AgencyInquiry, AGENCY, DeviceHints::default()),
            None
        );
        let mut blank = typed("   ");
        assert_eq!(
            blank.send(ContextType::AgencyInquiry, AGENCY, DeviceHints::default()),
            None
        );
        assert!(blank.problem().is_some());
        assert!(Compose::new(IdempotencyKey::generate()).problem().is_none());
    }

    #[test]
    fn a_merged_send_is_announced_and_a_new_one_leaves_for_the_conversation() {
        let mut compose = typed("Hello");
        let sent = send(&mut compose);
        let merged = response(&sent, Some(DedupReason::NaturalKey));
        let id = merged.conversation.id;
        assert_eq!(compose.answered(Ok(merged)), None);
        assert_eq!(compose.state(), &SendState::AlreadyContacted(id));

        let mut compose = typed("Hello");
        let sent = send(&mut compose);
        let created = response(&sent, None);
        let id = created.conversation.id;
        assert_eq!(compose.answered(Ok(created)), Some(id));
        assert_eq!(compose.text(), "", "the dialog starts afresh");
        let next = send(&mut typed_into(compose, "Another"));
        assert_ne!(next.key, sent.key);
    }

    fn typed_into(mut compose: Compose, text: &str) -> Compose {
        compose.edit(text.into());
        compose
    }
}
