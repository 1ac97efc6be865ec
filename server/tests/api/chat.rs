use crate::helpers::{TestApp, problem, streamed_local_ids};
use crate::on_both_stores;
use reqwest::StatusCode;
use serde_json::{Value, json};

/// Alice's conversation with Northwind; returns (alice's token, conversation id).
async fn conversation(app: &TestApp) -> (String, String) {
    app.alice_asks_northwind().await
}

fn chat(conversation_id: &str, text: &str, local_id: &str) -> Value {
    json!({ "conversation_id": conversation_id, "text": text, "local_id": local_id })
}

async fn rows_with_local_id(app: &TestApp, local_id: &str) -> i64 {
    app.count(&format!(
        "SELECT COUNT(*) FROM messages WHERE local_id = '{local_id}'"
    ))
    .await
}

async fn a_message_is_accepted_once_and_its_retries_get_the_same_body(app: TestApp) {
    let (token, id) = conversation(&app).await;
    let first = app
        .chat(&token, &chat(&id, "When can we talk?", "m-1"))
        .await;
    assert_eq!(first.status(), StatusCode::ACCEPTED);
    assert!(first.headers().get("idempotent-replayed").is_none());
    let first: Value = first.json().await.expect("json");
    assert_eq!(first["queued"], true);
    assert_eq!(first["message"]["local_id"], "m-1");

    for _ in 0..3 {
        let again = app
            .chat(&token, &chat(&id, "When can we talk?", "m-1"))
            .await;
        assert_eq!(again.status(), StatusCode::ACCEPTED);
        assert_eq!(again.headers()["idempotent-replayed"], "true");
        assert_eq!(again.json::<Value>().await.expect("json"), first);
    }
    assert_eq!(rows_with_local_id(&app, "m-1").await, 1);
}

async fn the_same_local_id_with_other_text_or_sender_is_422_and_stores_nothing(app: TestApp) {
    let (alice, id) = conversation(&app).await;
    assert_eq!(
        app.chat(&alice, &chat(&id, "First", "m-1")).await.status(),
        StatusCode::ACCEPTED
    );

    let (status, body) = problem(app.chat(&alice, &chat(&id, "Edited", "m-1")).await).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("local_id_reused"))
    );
    assert_eq!(body["differing_fields"], json!(["text"]));

    let carol = app.sign_in("carol").await;
    let (status, body) = problem(app.chat(&carol, &chat(&id, "First", "m-1")).await).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("local_id_reused"))
    );
    assert_eq!(body["differing_fields"], json!(["sender"]));

    let stored: Value = app
        .get(
            &alice,
            &format!("/api/messages/conversations/{id}/messages"),
        )
        .await
        .json()
        .await
        .expect("json");
    let texts: Vec<&str> = stored["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|m| m["text"].as_str())
        .collect();
    assert_eq!(texts, ["Hello!", "First"]);
}

async fn only_participants_may_post(app: TestApp) {
    let (_, id) = conversation(&app).await;
    let bob = app.sign_in("bob").await;
    let (status, body) = problem(app.chat(&bob, &chat(&id, "Let me in", "b-1")).await).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("not_found"))
    );
    let unknown = uuid::Uuid::new_v4().to_string();
    let (status, _) = problem(app.chat(&bob, &chat(&unknown, "Anyone?", "b-2")).await).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(rows_with_local_id(&app, "b-1").await, 0);

    let carol = app.sign_in("carol").await;
    assert_eq!(
        app.chat(&carol, &chat(&id, "Happy to help!", "c-1"))
            .await
            .status(),
        StatusCode::ACCEPTED
    );
}

async fn the_user_agent_becomes_the_device_kind(app: TestApp) {
    let (token, id) = conversation(&app).await;
    let mut body = chat(&id, "From my phone", "m-1");
    body["user_agent"] =
        json!("Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15");
    let sent: Value = app.chat(&token, &body).await.json().await.expect("json");
    assert_eq!(sent["message"]["display_data"]["device_kind"], "iphone");

    // Without one in the body, the request's own User-Agent header is used.
    let sent: Value = app
        .client
        .post(app.url("/api/chat"))
        .bearer_auth(&token)
        .header("user-agent", "Mozilla/5.0 (Windows NT 10.0; Win64; x64)")
        .json(&chat(&id, "From my desk", "m-2"))
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("json");
    assert_eq!(sent["message"]["display_data"]["device_kind"], "windows");
}

async fn messages_page_by_cursor_oldest_first(app: TestApp) {
    let (token, id) = conversation(&app).await;
    for n in 1..=4 {
        assert_eq!(
            app.chat(&token, &chat(&id, &format!("n{n}"), &format!("m-{n}")))
                .await
                .status(),
            StatusCode::ACCEPTED
        );
    }
    let mut texts = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/messages/conversations/{id}/messages?limit=2&cursor={c}"),
            None => format!("/api/messages/conversations/{id}/messages?limit=2"),
        };
        let page: Value = app.get(&token, &path).await.json().await.expect("json");
        texts.extend(
            page["items"]
                .as_array()
                .expect("items")
                .iter()
                .map(|m| m["text"].as_str().unwrap_or("").to_owned()),
        );
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(texts, ["Hello!", "n1", "n2", "n3", "n4"]);
}

async fn the_conversation_page_opens_on_the_newest_messages(app: TestApp) {
    let (token, id) = conversation(&app).await;
    let shown = server::page_data::SHOWN_MESSAGES as usize;
    // The opening message and `shown` more: the oldest one no longer fits.
    for n in 1..=shown {
        let message = chat(&id, &format!("n{n}."), &format!("m-{n}"));
        assert_eq!(
            app.chat(&token, &message).await.status(),
            StatusCode::ACCEPTED
        );
    }
    let page = app.get(&token, &format!("/conversations/{id}")).await;
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.expect("html");
    assert!(!html.contains(">Hello!<"), "the oldest message is shown");
    let first = html.find(">n1.<").expect("n1 shown");
    let newest = html
        .find(&format!(">n{shown}.<"))
        .expect("the newest shown");
    assert!(first < newest, "oldest first on the page");
}

async fn a_client_can_ask_whether_a_local_id_was_stored(app: TestApp) {
    let (token, id) = conversation(&app).await;
    let path = format!("/api/messages/conversations/{id}/messages/asked-1");
    let (status, body) = problem(app.get(&token, &path).await).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("not_found"))
    );

    let sent = app
        .chat(&token, &chat(&id, "Did it arrive?", "asked-1"))
        .await;
    assert_eq!(sent.status(), StatusCode::ACCEPTED);
    let found = app.get(&token, &path).await;
    assert_eq!(found.status(), StatusCode::OK);
    let message: Value = found.json().await.expect("json");
    assert_eq!(
        (
            message["local_id"].as_str(),
            message["text"].as_str(),
            message["seq"].as_u64()
        ),
        (Some("asked-1"), Some("Did it arrive?"), Some(2))
    );
    // Only its participants may ask.
    let dave = app.sign_in("dave").await;
    assert_eq!(app.get(&dave, &path).await.status(), StatusCode::NOT_FOUND);
}

async fn an_ipad_asking_for_the_desktop_site_is_stored_as_an_ipad(app: TestApp) {
    let (token, id) = conversation(&app).await;
    let mac_user_agent = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Safari/605.1.15";
    for (local_id, touch_points, kind) in [("from-ipad", 5, "ipad"), ("from-mac", 0, "mac")] {
        let mut body = chat(&id, "Hi", local_id);
        body["user_agent"] = json!(mac_user_agent);
        body["max_touch_points"] = json!(touch_points);
        let answer: Value = app.chat(&token, &body).await.json().await.expect("json");
        assert_eq!(answer["message"]["display_data"]["device_kind"], kind);
    }
}

async fn the_live_stream_carries_new_messages_with_their_local_id(app: TestApp) {
    let (alice, id) = conversation(&app).await;
    let carol = app.sign_in("carol").await;
    let stream = app
        .get(&carol, &format!("/api/messages/conversations/{id}/stream"))
        .await;
    assert_eq!(stream.status(), StatusCode::OK);
    assert_eq!(stream.headers()["content-type"], "text/event-stream");

    assert_eq!(
        app.chat(&alice, &chat(&id, "Live!", "live-1"))
            .await
            .status(),
        StatusCode::ACCEPTED
    );
    // A replay is not a new message and is not streamed again.
    assert_eq!(
        app.chat(&alice, &chat(&id, "Live!", "live-1"))
            .await
            .status(),
        StatusCode::ACCEPTED
    );
    assert_eq!(
        app.chat(&alice, &chat(&id, "Second", "live-2"))
            .await
            .status(),
        StatusCode::ACCEPTED
    );

    assert_eq!(streamed_local_ids(stream, 2).await, ["live-1", "live-2"]);
}

on_both_stores!(
    a_message_is_accepted_once_and_its_retries_get_the_same_body,
    the_same_local_id_with_other_text_or_sender_is_422_and_stores_nothing,
    only_participants_may_post,
    the_user_agent_becomes_the_device_kind,
    messages_page_by_cursor_oldest_first,
    the_conversation_page_opens_on_the_newest_messages,
    an_ipad_asking_for_the_desktop_site_is_stored_as_an_ipad,
    a_client_can_ask_whether_a_local_id_was_stored,
    the_live_stream_carries_new_messages_with_their_local_id,
);
