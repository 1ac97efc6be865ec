//! Clients that never give up on an intent, as the product's outbox does not: every retry
//! carries the same Idempotency-Key or `local_id` and waits by `core`'s backoff, and one
//! intent in three is sent as two or three racing copies (a double click, two tabs).

use messaging_core::retry::{Backoff, Failure, parse_retry_after};
use messaging_core::wire::{
    ChatRequest, ChatResponse, ContextType, CreateConversationRequest, CreateConversationResponse,
    InitialMessage, SessionResponse, SignInRequest,
};
use messaging_core::{ConversationId, IDEMPOTENCY_KEY_HEADER, IDEMPOTENT_REPLAYED_HEADER, Problem};
use serde::Serialize;
use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::time::Instant;
use uuid::Uuid;

/// The demo users (every password is `demo-password`); each contacts the soak's agencies.
pub const USERS: [&str; 4] = ["alice", "bob", "carol", "dave"];

pub struct User {
    pub id: String,
    pub token: String,
}

#[derive(Clone, Debug)]
pub enum Intent {
    Create {
        user: usize,
        agency: Uuid,
        key: String,
        local_id: String,
        text: String,
    },
    Chat {
        user: usize,
        conversation: ConversationId,
        local_id: String,
        text: String,
    },
}

impl Intent {
    pub fn local_id(&self) -> &str {
        match self {
            Self::Create { local_id, .. } | Self::Chat { local_id, .. } => local_id,
        }
    }

    pub fn text(&self) -> &str {
        match self {
            Self::Create { text, .. } | Self::Chat { text, .. } => text,
        }
    }
}

/// What the server acknowledged for an intent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ack {
    pub conversation_id: String,
    pub message_id: String,
}

enum Answer {
    Ack(Ack),
    /// A 4xx that no retry can fix: the soak sends only valid intents, so any is a bug.
    Refused(String),
}

/// Counts of what the clients saw, for the report.
#[derive(Default, Serialize)]
pub struct Tally {
    pub intents: AtomicU64,
    /// Racing copies beyond the first, and late retries of acknowledged intents.
    pub duplicate_sends: AtomicU64,
    pub requests: AtomicU64,
    pub acknowledged: AtomicU64,
    pub replays: AtomicU64,
    pub merged_by_natural_key: AtomicU64,
    pub in_flight_409: AtomicU64,
    pub network_errors: AtomicU64,
    pub server_errors_5xx: AtomicU64,
    pub database_locked: AtomicU64,
    pub refused_4xx: AtomicU64,
    /// Copies of one intent acknowledged with different messages.
    pub copies_disagreeing: AtomicU64,
    /// A late retry answered with another message than the first time.
    pub late_retries_disagreeing: AtomicU64,
    /// One user and agency answered with two different conversations.
    pub natural_key_disagreeing: AtomicU64,
    /// Each attempt's time to its answer (or failure), in microseconds.
    #[serde(skip)]
    pub latencies_us: Mutex<Vec<u32>>,
}

impl Tally {
    /// The 99th percentile of the attempts' latencies, in milliseconds.
    pub fn p99_ms(&self) -> f64 {
        let mut latencies = self.latencies_us.lock().expect("latencies").clone();
        if latencies.is_empty() {
            return 0.0;
        }
        latencies.sort_unstable();
        let index = (latencies.len() * 99 / 100).min(latencies.len() - 1);
        f64::from(latencies[index]) / 1000.0
    }
}

fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

/// Every acknowledged intent, for the audit.
#[derive(Default)]
pub struct Ledger {
    pub acked: Vec<(Intent, Ack)>,
    /// (user, agency) → the conversation the server named.
    pub conversations: HashMap<(usize, Uuid), String>,
    /// A few examples of what went wrong, for the report.
    pub examples: Vec<String>,
}

pub struct Storm {
    http: reqwest::Client,
    /// Base URLs: the server processes, or the lossy proxies in front of them.
    endpoints: Vec<String>,
    pub users: Vec<User>,
    agencies: Vec<Uuid>,
    pub tally: Tally,
    pub ledger: Mutex<Ledger>,
    next_local_id: AtomicU64,
}

/// Quick retries: the soak wants many of them; the product's outbox waits longer.
const BACKOFF: Backoff = Backoff {
    base: Duration::from_millis(20),
    max: Duration::from_secs(1),
    max_retries: None,
};

/// Signs `name` in. The crash scenarios' fault points are armed from the server's start,
/// so a sign-in's commit may abort the process (it is started again): a request that got
/// no answer is sent again, for up to 10 s.
async fn sign_in(
    http: &reqwest::Client,
    direct: &str,
    name: &str,
) -> anyhow::Result<SessionResponse> {
    let request = SignInRequest {
        username: name.to_owned(),
        password: "demo-password".to_owned(),
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match http
            .post(format!("{direct}/api/session"))
            .json(&request)
            .send()
            .await
        {
            Ok(response) => return Ok(response.error_for_status()?.json().await?),
            Err(error) if Instant::now() < deadline => {
                eprintln!("soak: signing {name} in got no answer ({error}); again");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(error) => return Err(error.into()),
        }
    }
}

impl Storm {
    /// Signs every user in (straight to a server, before any fault) and gets ready.
    pub async fn new(
        endpoints: Vec<String>,
        direct: &str,
        agencies: Vec<Uuid>,
        new_connection_per_request: bool,
    ) -> anyhow::Result<Self> {
        let mut builder = reqwest::Client::builder().timeout(Duration::from_secs(10));
        if new_connection_per_request {
            builder = builder.pool_max_idle_per_host(0);
        }
        let http = builder.build()?;
        let mut users = Vec::new();
        for name in USERS {
            let session = sign_in(&http, direct, name).await?;
            users.push(User {
                id: session.user.id.to_string(),
                token: session.token,
            });
        }
        Ok(Self {
            http,
            endpoints,
            users,
            agencies,
            tally: Tally::default(),
            ledger: Mutex::default(),
            next_local_id: AtomicU64::new(0),
        })
    }

    /// Sends new intents until `until`, then finishes the one in hand.
    pub async fn run_worker(&self, until: Instant) {
        while Instant::now() < until {
            let intent = self.next_intent();
            bump(&self.tally.intents);
            let copies = if fastrand::u8(..100) < 33 {
                fastrand::usize(2..=3)
            } else {
                1
            };
            for _ in 1..copies {
                bump(&self.tally.duplicate_sends);
            }
            let answers =
                futures_util::future::join_all((0..copies).map(|_| self.send(&intent))).await;
            self.record(&intent, answers);
            if fastrand::u8(..100) < 5 {
                self.retry_late().await;
            }
        }
    }

    /// A chat message in one of the user's conversations, three times in four; else a
    /// conversation with a random agency (which merges when they already have one).
    fn next_intent(&self) -> Intent {
        let user = fastrand::usize(..self.users.len());
        let n = self.next_local_id.fetch_add(1, Ordering::Relaxed);
        let local_id = format!("soak-{n}");
        let text = format!("Soak message {n}");
        let known: Vec<String> = {
            let ledger = self.ledger.lock().expect("ledger");
            ledger
                .conversations
                .iter()
                .filter(|((owner, _), _)| *owner == user)
                .map(|(_, id)| id.clone())
                .collect()
        };
        if !known.is_empty() && fastrand::u8(..4) > 0 {
            let conversation = known[fastrand::usize(..known.len())]
                .parse()
                .expect("the server's conversation id");
            return Intent::Chat {
                user,
                conversation,
                local_id,
                text,
            };
        }
        Intent::Create {
            user,
            agency: self.agencies[fastrand::usize(..self.agencies.len())],
            key: Uuid::new_v4().to_string(),
            local_id,
            text,
        }
    }

    fn record(&self, intent: &Intent, answers: Vec<Answer>) {
        let mut ledger = self.ledger.lock().expect("ledger");
        let mut first: Option<Ack> = None;
        for answer in answers {
            match answer {
                Answer::Refused(why) => {
                    bump(&self.tally.refused_4xx);
                    note(&mut ledger, format!("{} refused: {why}", intent.local_id()));
                }
                Answer::Ack(ack) => match &first {
                    Some(earlier) if *earlier != ack => {
                        bump(&self.tally.copies_disagreeing);
                        note(
                            &mut ledger,
                            format!(
                                "copies of {} got {earlier:?} and {ack:?}",
                                intent.local_id()
                            ),
                        );
                    }
                    Some(_) => {}
                    None => first = Some(ack),
                },
            }
        }
        let Some(ack) = first else { return };
        if let Intent::Create { user, agency, .. } = intent {
            let named = ledger
                .conversations
                .entry((*user, *agency))
                .or_insert_with(|| ack.conversation_id.clone())
                .clone();
            if named != ack.conversation_id {
                bump(&self.tally.natural_key_disagreeing);
                note(
                    &mut ledger,
                    format!(
                        "two conversations for one user and agency: {named} and {}",
                        ack.conversation_id
                    ),
                );
            }
        }
        ledger.acked.push((intent.clone(), ack));
    }

    /// Sends an acknowledged intent again, long after: it must get the same answer.
    async fn retry_late(&self) {
        let earlier = {
            let ledger = self.ledger.lock().expect("ledger");
            if ledger.acked.is_empty() {
                return;
            }
            ledger.acked[fastrand::usize(..ledger.acked.len())].clone()
        };
        bump(&self.tally.duplicate_sends);
        if let Answer::Ack(again) = self.send(&earlier.0).await
            && again != earlier.1
        {
            bump(&self.tally.late_retries_disagreeing);
            let mut ledger = self.ledger.lock().expect("ledger");
            note(
                &mut ledger,
                format!(
                    "late retry of {} got {again:?}, first {:?}",
                    earlier.0.local_id(),
                    earlier.1
                ),
            );
        }
    }

    /// Sends until a definite answer, to a random server each time.
    async fn send(&self, intent: &Intent) -> Answer {
        for retry in 0.. {
            bump(&self.tally.requests);
            let endpoint = &self.endpoints[fastrand::usize(..self.endpoints.len())];
            let started = Instant::now();
            let attempt = self.attempt(endpoint, intent).await;
            let took = u32::try_from(started.elapsed().as_micros()).unwrap_or(u32::MAX);
            self.tally
                .latencies_us
                .lock()
                .expect("latencies")
                .push(took);
            let (failure, retry_after) = match attempt {
                Ok(ack) => {
                    bump(&self.tally.acknowledged);
                    return Answer::Ack(ack);
                }
                Err(Attempt::Network) => {
                    bump(&self.tally.network_errors);
                    (Failure::Network, None)
                }
                Err(Attempt::Status {
                    status,
                    problem,
                    retry_after,
                }) => {
                    let code = problem.as_ref().map(|problem| problem.code);
                    let failure = Failure::Status { status, code };
                    if status >= 500 {
                        bump(&self.tally.server_errors_5xx);
                        let detail = problem.map(|p| p.detail).unwrap_or_default();
                        if detail.contains("locked") {
                            bump(&self.tally.database_locked);
                        }
                        let mut ledger = self.ledger.lock().expect("ledger");
                        note(
                            &mut ledger,
                            format!("{status} for {}: {detail}", intent.local_id()),
                        );
                    } else if status == 409 {
                        bump(&self.tally.in_flight_409);
                    }
                    if !failure.is_retryable() {
                        return Answer::Refused(format!("{status} {code:?}"));
                    }
                    (failure, retry_after)
                }
            };
            let wait = BACKOFF
                .delay(retry, failure, fastrand::f64(), retry_after)
                .unwrap_or(BACKOFF.max);
            tokio::time::sleep(wait).await;
        }
        unreachable!("the loop retries for ever")
    }

    async fn attempt(&self, endpoint: &str, intent: &Intent) -> Result<Ack, Attempt> {
        let request = match intent {
            Intent::Create {
                user,
                agency,
                key,
                local_id,
                text,
            } => self
                .http
                .post(format!("{endpoint}/api/messages/conversations"))
                .bearer_auth(&self.users[*user].token)
                .header(IDEMPOTENCY_KEY_HEADER, key)
                .json(&CreateConversationRequest {
                    context_type: ContextType::AgencyInquiry,
                    context_id: *agency,
                    initial_message: InitialMessage {
                        text: text.clone(),
                        local_id: local_id.clone(),
                        user_agent: None,
                        max_touch_points: None,
                    },
                }),
            Intent::Chat {
                user,
                conversation,
                local_id,
                text,
            } => self
                .http
                .post(format!("{endpoint}/api/chat"))
                .bearer_auth(&self.users[*user].token)
                .json(&ChatRequest {
                    conversation_id: *conversation,
                    text: text.clone(),
                    local_id: local_id.clone(),
                    user_agent: None,
                    max_touch_points: None,
                }),
        };
        let response = request.send().await.map_err(|_| Attempt::Network)?;
        let status = response.status();
        let replayed = response.headers().contains_key(IDEMPOTENT_REPLAYED_HEADER);
        if !status.is_success() {
            let retry_after = response
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|value| parse_retry_after(value.to_str().ok()?));
            let problem = response.json::<Problem>().await.ok();
            return Err(Attempt::Status {
                status: status.as_u16(),
                problem,
                retry_after,
            });
        }
        // A body cut off mid-way is a network failure like any other.
        let ack = match intent {
            Intent::Create { .. } => {
                let body: CreateConversationResponse =
                    response.json().await.map_err(|_| Attempt::Network)?;
                if body.dedup.is_some() {
                    bump(&self.tally.merged_by_natural_key);
                }
                Ack {
                    conversation_id: body.conversation.id.to_string(),
                    message_id: body.message.id.to_string(),
                }
            }
            Intent::Chat { .. } => {
                let body: ChatResponse = response.json().await.map_err(|_| Attempt::Network)?;
                Ack {
                    conversation_id: body.message.conversation_id.to_string(),
                    message_id: body.message.id.to_string(),
                }
            }
        };
        if replayed {
            bump(&self.tally.replays);
        }
        Ok(ack)
    }
}

enum Attempt {
    Network,
    Status {
        status: u16,
        problem: Option<Problem>,
        retry_after: Option<Duration>,
    },
}

fn note(ledger: &mut Ledger, example: String) {
    if ledger.examples.len() < 20 {
        ledger.examples.push(example);
    }
}
