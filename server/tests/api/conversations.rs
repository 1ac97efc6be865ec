use crate::helpers::{TestApp, inquiry, problem};
use crate::on_both_stores;
use reqwest::StatusCode;
use serde_json::Value;

const CONVERSATIONS: &str = "SELECT COUNT(*) FROM conversations";
const MESSAGES: &str = "SELECT COUNT(*) FROM messages";

async fn a_new_conversation_is_201_with_its_first_message_and_key_expiry(app: TestApp) {
    let token = app.sign_in("alice").await;
    let agency = app.agency_id("northwind").await;
    let response = app
        .create_conversation(&token, "key-1", &inquiry(&agency, "Hello!", "m-1"))
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    assert!(response.headers().get("idempotent-replayed").is_none());
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["conversation"]["context_id"], agency.as_str());
    assert_eq!(body["conversation"]["title"], "Northwind Travel");
    assert_eq!(body["message"]["text"], "Hello!");
    assert_eq!(body["message"]["local_id"], "m-1");
    assert!(body.get("dedup").is_none());
    assert!(
        body["key_expires_at"]
            .as_str()
            .is_some_and(|t| t > body["conversation"]["created_at"].as_str().unwrap_or(""))
    );
    assert_eq!(app.count(CONVERSATIONS).await, 1);
    assert_eq!(app.count(MESSAGES).await, 1);
}

async fn the_same_key_and_payload_replays_the_stored_response_byte_for_byte(app: TestApp) {
    let token = app.sign_in("alice").await;
    let agency = app.agency_id("northwind").await;
    let body = inquiry(&agency, "Hello!", "m-1");
    let first = app.create_conversation(&token, "key-1", &body).await;
    assert_eq!(first.status(), StatusCode::CREATED);
    let first = first.bytes().await.expect("body");
    // A double click, a retry after a lost response, a reload: the same key again.
    for _ in 0..3 {
        let again = app.create_conversation(&token, "\"key-1\"", &body).await;
        assert_eq!(again.status(), StatusCode::CREATED);
        assert_eq!(again.headers()["idempotent-replayed"], "true");
        assert_eq!(again.bytes().await.expect("body"), first);
    }
    assert_eq!(app.count(CONVERSATIONS).await, 1);
    assert_eq!(app.count(MESSAGES).await, 1);
}

async fn the_same_key_with_another_payload_is_422_naming_the_fields(app: TestApp) {
    let token = app.sign_in("alice").await;
    let northwind = app.agency_id("northwind").await;
    let blue_harbor = app.agency_id("blue-harbor").await;
    let first = app
        .create_conversation(&token, "key-1", &inquiry(&northwind, "Hello!", "m-1"))
        .await;
    assert_eq!(first.status(), StatusCode::CREATED);

    let reused = app
        .create_conversation(&token, "key-1", &inquiry(&blue_harbor, "Hi there", "m-1"))
        .await;
    let (status, body) = problem(reused).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["code"], "idempotency_key_reused");
    assert_eq!(
        body["differing_fields"],
        serde_json::json!(["context_id", "initial_message.text"])
    );
    assert_eq!(app.count(CONVERSATIONS).await, 1);
    assert_eq!(app.count(MESSAGES).await, 1);
}

/// The seed scenario: the existence check timed out, the modal opened with a new key,
/// the user sent again. One conversation; the UI is told why.
async fn a_create_with_another_key_for_the_same_agency_is_200_with_the_existing_conversation(
    app: TestApp,
) {
    let token = app.sign_in("alice").await;
    let agency = app.agency_id("northwind").await;
    let first: Value = app
        .created(&token, "key-1", &inquiry(&agency, "Hello!", "m-1"))
        .await;

    let second = app
        .create_conversation(&token, "key-2", &inquiry(&agency, "Are you there?", "m-2"))
        .await;
    assert_eq!(second.status(), StatusCode::OK);
    let second: Value = second.json().await.expect("json");
    assert_eq!(second["dedup"], "natural_key");
    assert_eq!(second["conversation"]["id"], first["conversation"]["id"]);
    assert_eq!(second["message"]["text"], "Are you there?");

    // The same initial message under yet another key is stored once.
    let third = app
        .create_conversation(&token, "key-3", &inquiry(&agency, "Are you there?", "m-2"))
        .await;
    assert_eq!(third.status(), StatusCode::OK);
    let third: Value = third.json().await.expect("json");
    assert_eq!(third["message"]["id"], second["message"]["id"]);
    assert_eq!(app.count(CONVERSATIONS).await, 1);
    assert_eq!(app.count(MESSAGES).await, 2);
}

async fn the_existence_check_finds_the_conversation_by_its_context(app: TestApp) {
    let token = app.sign_in("alice").await;
    let agency = app.agency_id("northwind").await;
    let check =
        format!("/api/messages/conversations?context_type=agency_inquiry&context_id={agency}");
    let before: Value = app.get(&token, &check).await.json().await.expect("json");
    assert_eq!(before["items"], serde_json::json!([]));

    let created: Value = app
        .created(&token, "key-1", &inquiry(&agency, "Hello!", "m-1"))
        .await;
    let after: Value = app.get(&token, &check).await.json().await.expect("json");
    assert_eq!(after["items"][0]["id"], created["conversation"]["id"]);
    let other = app.agency_id("blue-harbor").await;
    let elsewhere: Value = app
        .get(
            &token,
            &format!("/api/messages/conversations?context_type=agency_inquiry&context_id={other}"),
        )
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(elsewhere["items"], serde_json::json!([]));
    // An agency member sees the conversation, but the check asks about one's own.
    let carol = app.sign_in("carol").await;
    let hers: Value = app.get(&carol, &check).await.json().await.expect("json");
    assert_eq!(hers["items"], serde_json::json!([]));
}

async fn keys_are_per_user_and_never_replay_for_another(app: TestApp) {
    let alice = app.sign_in("alice").await;
    let bob = app.sign_in("bob").await;
    let agency = app.agency_id("northwind").await;
    let body = inquiry(&agency, "Hello!", "m-1");
    let hers: Value = app.created(&alice, "shared-key", &body).await;
    let his = app.create_conversation(&bob, "shared-key", &body).await;
    assert_eq!(his.status(), StatusCode::CREATED);
    assert!(his.headers().get("idempotent-replayed").is_none());
    let his: Value = his.json().await.expect("json");
    assert_ne!(his["conversation"]["id"], hers["conversation"]["id"]);
    assert_eq!(
        his["conversation"]["created_by"]["display_name"],
        "Bob Chen"
    );
    assert_eq!(app.count(CONVERSATIONS).await, 2);
}

async fn a_missing_or_malformed_key_is_400(app: TestApp) {
    let token = app.sign_in("alice").await;
    let agency = app.agency_id("northwind").await;
    let missing = app
        .client
        .post(app.url("/api/messages/conversations"))
        .bearer_auth(&token)
        .json(&inquiry(&agency, "Hello!", "m-1"))
        .send()
        .await
        .expect("request");
    let (status, body) = problem(missing).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("idempotency_key_missing"))
    );

    for bad in ["has space", "\"unterminated", &"k".repeat(256)] {
        let (status, body) = problem(
            app.create_conversation(&token, bad, &inquiry(&agency, "Hi", "m-1"))
                .await,
        )
        .await;
        assert_eq!(
            (status, body["code"].as_str()),
            (StatusCode::BAD_REQUEST, Some("idempotency_key_invalid")),
            "{bad}"
        );
    }
    assert_eq!(app.count(CONVERSATIONS).await, 0);
}

async fn an_unknown_agency_is_404_and_stores_nothing(app: TestApp) {
    let token = app.sign_in("alice").await;
    let unknown = uuid::Uuid::new_v4().to_string();
    let (status, body) = problem(
        app.create_conversation(&token, "key-1", &inquiry(&unknown, "Hi", "m-1"))
            .await,
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("not_found"))
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM idempotency_keys").await, 0);
}

async fn invalid_text_or_local_id_is_422_listing_each_field(app: TestApp) {
    let token = app.sign_in("alice").await;
    let agency = app.agency_id("northwind").await;
    let (status, body) = problem(
        app.create_conversation(&token, "key-1", &inquiry(&agency, "   ", "not ok!"))
            .await,
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("validation_failed"))
    );
    let fields: Vec<&str> = body["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .filter_map(|e| e["field"].as_str())
        .collect();
    assert_eq!(fields, ["initial_message.text", "initial_message.local_id"]);
    // Nothing was claimed: the corrected retry with the same key goes through.
    let retry = app
        .create_conversation(&token, "key-1", &inquiry(&agency, "Hello", "m-1"))
        .await;
    assert_eq!(retry.status(), StatusCode::CREATED);
}

async fn the_agency_member_sees_the_conversation_and_others_do_not(app: TestApp) {
    let alice = app.sign_in("alice").await;
    let agency = app.agency_id("northwind").await;
    let created: Value = app
        .created(&alice, "key-1", &inquiry(&agency, "Hello!", "m-1"))
        .await;
    let id = created["conversation"]["id"].as_str().expect("id");
    let path = format!("/api/messages/conversations/{id}");

    let carol = app.sign_in("carol").await;
    assert_eq!(app.get(&carol, &path).await.status(), StatusCode::OK);
    let listed: Value = app
        .get(&carol, "/api/messages/conversations")
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(listed["items"][0]["id"], id);

    for outsider in ["bob", "dave"] {
        let token = app.sign_in(outsider).await;
        for sub in ["", "/messages", "/stream"] {
            let (status, _) = problem(app.get(&token, &format!("{path}{sub}")).await).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{outsider} {sub}");
        }
        let listed: Value = app
            .get(&token, "/api/messages/conversations")
            .await
            .json()
            .await
            .expect("json");
        assert_eq!(listed["items"], serde_json::json!([]), "{outsider}");
    }
}

async fn conversations_page_by_cursor_newest_first(app: TestApp) {
    let alice = app.sign_in("alice").await;
    for slug in ["northwind", "blue-harbor", "summit-events"] {
        let agency = app.agency_id(slug).await;
        let response = app
            .create_conversation(&alice, slug, &inquiry(&agency, "Hi", "m-1"))
            .await;
        assert_eq!(response.status(), StatusCode::CREATED);
    }
    let first: Value = app
        .get(&alice, "/api/messages/conversations?limit=2")
        .await
        .json()
        .await
        .expect("json");
    let titles = |page: &Value| -> Vec<String> {
        page["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|c| c["title"].as_str().unwrap_or("").to_owned())
            .collect()
    };
    assert_eq!(titles(&first), ["Summit Events", "Blue Harbor Realty"]);
    let cursor = first["next_cursor"].as_str().expect("a next page");
    let second: Value = app
        .get(
            &alice,
            &format!("/api/messages/conversations?limit=2&cursor={cursor}"),
        )
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(titles(&second), ["Northwind Travel"]);
    assert!(second.get("next_cursor").is_none());
}

on_both_stores!(
    a_new_conversation_is_201_with_its_first_message_and_key_expiry,
    the_same_key_and_payload_replays_the_stored_response_byte_for_byte,
    the_same_key_with_another_payload_is_422_naming_the_fields,
    a_create_with_another_key_for_the_same_agency_is_200_with_the_existing_conversation,
    the_existence_check_finds_the_conversation_by_its_context,
    keys_are_per_user_and_never_replay_for_another,
    a_missing_or_malformed_key_is_400,
    an_unknown_agency_is_404_and_stores_nothing,
    invalid_text_or_local_id_is_422_listing_each_field,
    the_agency_member_sees_the_conversation_and_others_do_not,
    conversations_page_by_cursor_newest_first,
);

/// With a retention of zero a key expires at once: reusing it starts a new intent,
/// and the natural key still prevents a second conversation.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_key_starts_afresh_and_the_natural_key_still_holds() {
    use crate::helpers::{Store, fresh_database, spawn_app_on};
    let (url, dir) = fresh_database(Store::Sqlite).await;
    let app = spawn_app_on(url, dir, |config| {
        config.key_retention = std::time::Duration::ZERO
    })
    .await;
    let token = app.sign_in("alice").await;
    let agency = app.agency_id("northwind").await;
    let first = app
        .create_conversation(&token, "key-1", &inquiry(&agency, "Hello!", "m-1"))
        .await;
    assert_eq!(first.status(), StatusCode::CREATED);
    // Another payload under the expired key is not a 422 any more.
    let again = app
        .create_conversation(&token, "key-1", &inquiry(&agency, "Still there?", "m-2"))
        .await;
    assert_eq!(again.status(), StatusCode::OK);
    assert!(again.headers().get("idempotent-replayed").is_none());
    let again: Value = again.json().await.expect("json");
    assert_eq!(again["dedup"], "natural_key");
    assert_eq!(app.count(CONVERSATIONS).await, 1);
    assert_eq!(app.count(MESSAGES).await, 2);
    assert_eq!(app.count("SELECT COUNT(*) FROM idempotency_keys").await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_replays_and_natural_key_merges() {
    use crate::helpers::{Store, spawn_app};
    let app = spawn_app(Store::Sqlite).await;
    let token = app.sign_in("alice").await;
    let agency = app.agency_id("northwind").await;
    let body = inquiry(&agency, "Hello!", "m-1");
    app.create_conversation(&token, "key-1", &body).await;
    app.create_conversation(&token, "key-1", &body).await;
    app.create_conversation(&token, "key-2", &body).await;
    let metrics = app.metrics().await;
    for name in [
        "dedup_replays_total",
        "dedup_natural_key_merges_total",
        "dedup_local_id_duplicates_total",
        "http_requests_total",
    ] {
        assert!(metrics.contains(name), "{name} missing:\n{metrics}");
    }
}
