//! Telegram through the Bot API: the site's bot, its webhook accepted only with the secret
//! token, answers through `sendMessage` (a local stand-in that checks requests as Telegram
//! does), redeliveries stored once, staff replies on Telegram.

use serde_json::{Value, json};

use crate::continuation::{identity, invite};
use crate::identity::profiles;
use crate::support::{Edge, Reply, Site, edge, poll, site_with_articles};

const BOT_TOKEN: &str = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw0";
const SECRET: &str = "webhook_secret-42";

fn set_up(site: &Site) {
    let body = json!({ "bot_token": BOT_TOKEN, "secret_token": SECRET, "username": "acme_help_bot" });
    let reply = edge().json("PUT", &site.path("/channels/telegram"), Some(&site.admin_key), &body);
    let info = reply.expect_ok(200);
    assert!(!info.to_string().contains("AAHdq") && !info.to_string().contains(SECRET));
}

fn update(chat: i64, message_id: i64, text: &str) -> Value {
    json!({"update_id": chat * 100 + message_id, "message": {
        "message_id": message_id,
        "from": {"id": chat, "is_bot": false, "first_name": "Ada"},
        "chat": {"id": chat, "type": "private"},
        "date": 1_795_690_000,
        "text": text,
    }})
}

fn post(site: &Site, secret: Option<&str>, body: &Value) -> Reply {
    let mut headers = vec![("Content-Type", "application/json")];
    if let Some(secret) = secret {
        headers.push(("X-Telegram-Bot-Api-Secret-Token", secret));
    }
    let reply = edge().request(
        "POST",
        &site.path("/inbound/telegram"),
        &headers,
        Some(body.to_string().as_bytes()),
    );
    if reply.status == 200 {
        site.settle_inbox();
    }
    reply
}

/// What Telegram chat `chat` wrote, as stored in its one owner's conversation on `edge`.
fn visitor_texts(edge: &Edge, site: &Site, chat: i64) -> Vec<String> {
    let auth = format!("Bearer {}", site.admin_key);
    let path = site.path(&format!("/profiles?identity=telegram:{chat}"));
    let owners = edge
        .request("GET", &path, &[("Authorization", &auth)], None)
        .expect_ok(200)["profiles"]
        .clone();
    assert_eq!(owners.as_array().unwrap().len(), 1);
    let conversation = owners[0]["conversations"][0].as_str().unwrap();
    let path = site.path(&format!("/conversations/{conversation}"));
    let reply = edge.request("GET", &path, &[("Authorization", &auth)], None);
    reply.expect_ok(200)["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["role"] == "visitor")
        .map(|m| m["text"].as_str().unwrap().to_owned())
        .collect()
}

fn wait_for(chat: i64, n: usize) -> Vec<Value> {
    poll(|| edge().telegram_to(chat), n)
}

#[test]
fn the_bot_answers_on_telegram_and_staff_reply_there() {
    let site = site_with_articles();
    post(&site, Some(SECRET), &update(1, 1, "hi")).expect_error(404, "not_found");
    set_up(&site);
    let chat = 7_000_000_000 + i64::from(std::process::id());
    let question = update(chat, 1, "how do I reset my password?");
    post(&site, None, &question).expect_error(401, "invalid_signature");
    post(&site, Some("wrong"), &question).expect_error(401, "invalid_signature");
    assert!(edge().telegram_to(chat).is_empty());
    assert_eq!(post(&site, Some(SECRET), &question).expect_ok(200)["messages"], 1);
    let sent = wait_for(chat, 1);
    assert!(
        sent[0]["text"].as_str().unwrap().contains("Forgot password"),
        "{sent:?}"
    );
    // Telegram redelivers: stored once.
    post(&site, Some(SECRET), &question).expect_ok(200);
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert_eq!(edge().telegram_to(chat).len(), 1);
    // Updates without a message are acknowledged and ignored; garbage is a 400.
    let edit = json!({"update_id": 1, "edited_message": {"text": "x"}});
    assert_eq!(post(&site, Some(SECRET), &edit).expect_ok(200)["messages"], 0);
    post(&site, Some(SECRET), &json!({"nope": true})).expect_error(400, "malformed_json");

    post(&site, Some(SECRET), &update(chat, 2, "I want to talk to a person")).expect_ok(200);
    let auth = format!("Bearer {}", site.admin_key);
    let queue = edge().request("GET", &site.path("/queue"), &[("Authorization", &auth)], None);
    let conversation = queue.expect_ok(200)["queue"][0]["conversation"]
        .as_str()
        .unwrap()
        .to_owned();
    let reply = edge().json(
        "POST",
        &site.path(&format!("/conversations/{conversation}/replies")),
        Some(&site.admin_key),
        &json!({ "id": "r1", "text": "Hello from the team!" }),
    );
    assert_eq!(reply.expect_ok(200)["delivered_by"], "telegram");
    assert_eq!(wait_for(chat, 3).last().unwrap()["text"], "Hello from the team!");
    // Set-up is validated.
    let bad = json!({ "bot_token": "not-a-token", "secret_token": SECRET });
    let reply = edge().json("PUT", &site.path("/channels/telegram"), Some(&site.admin_key), &bad);
    assert_eq!(
        reply.expect_error(400, "invalid_field").body["error"]["field"],
        "bot_token"
    );
}

#[test]
fn pressing_start_in_the_bot_from_the_widgets_link_continues_the_chat_on_telegram() {
    let site = site_with_articles();
    set_up(&site);
    let session = site.session();
    site.send(&session, "c1", "can I get a refund").expect_ok(200);
    let invitation = invite(&site, &session, "telegram");
    let code = invitation["code"].as_str().unwrap();
    assert_eq!(invitation["link"], format!("https://t.me/acme_help_bot?start={code}"));
    assert_eq!(invitation["to"], "@acme_help_bot");
    // Telegram sends `/start <parameter>` when the customer presses Start.
    let chat = 7_300_000_000 + i64::from(std::process::id() % 1_000_000);
    post(&site, Some(SECRET), &update(chat, 1, &format!("/start {code}"))).expect_ok(200);
    let sent = wait_for(chat, 1);
    assert!(
        sent[0]["text"].as_str().unwrap().starts_with("You're connected"),
        "{sent:?}"
    );
    let owners = profiles(&site, &format!("telegram:{chat}"));
    assert_eq!(owners.len(), 1);
    let record = identity(&owners[0], "telegram", &chat.to_string()).unwrap();
    assert_eq!(
        record["proof"],
        json!({"method": "continue_code", "channel": "telegram"})
    );
    post(&site, Some(SECRET), &update(chat, 2, "how do I reset my password?")).expect_ok(200);
    wait_for(chat, 2);
    let channels = site.visitor_messages(&session, "channel");
    assert_eq!(channels, ["chat", "telegram", "telegram"]);
    // A bad username is refused when the bot is set up.
    let bad = json!({ "bot_token": BOT_TOKEN, "secret_token": SECRET, "username": "no" });
    let reply = edge().json("PUT", &site.path("/channels/telegram"), Some(&site.admin_key), &bad);
    reply.expect_error(400, "invalid_field");
    assert_eq!(reply.body["error"]["field"], "username");
}

#[test]
fn a_burst_of_updates_is_kept_then_each_stored_once_in_the_order_sent() {
    let site = site_with_articles();
    set_up(&site);
    let first = 7_600_000_000 + i64::from(std::process::id() % 1_000_000) * 10;
    let chats: Vec<i64> = (0..4).map(|k| first + k).collect();
    // Four chats at once, each sending 8 messages one after another; Telegram redelivers every
    // third. The webhook answers once the update is kept in the site's inbox.
    std::thread::scope(|scope| {
        for &chat in &chats {
            let site = &site;
            scope.spawn(move || {
                for n in 1..=8 {
                    let body = update(chat, n, &format!("burst {chat} {n}"));
                    let reply = edge().request(
                        "POST",
                        &site.path("/inbound/telegram"),
                        &[
                            ("Content-Type", "application/json"),
                            ("X-Telegram-Bot-Api-Secret-Token", SECRET),
                        ],
                        Some(body.to_string().as_bytes()),
                    );
                    assert_eq!(reply.expect_ok(200)["messages"], 1);
                    if n % 3 == 0 {
                        assert_eq!(post(site, Some(SECRET), &body).expect_ok(200)["messages"], 1);
                    }
                }
            });
        }
    });
    site.settle_inbox();
    let inbox = site.inbox();
    assert_eq!(inbox["retrying"], 0, "{inbox}");
    assert!(inbox["oldest_received_at"].is_null(), "{inbox}");
    for chat in chats {
        let texts = visitor_texts(edge(), &site, chat);
        let expected: Vec<String> = (1..=8).map(|n| format!("burst {chat} {n}")).collect();
        assert_eq!(texts, expected);
    }
}

#[test]
fn updates_acknowledged_before_the_edge_is_killed_are_all_stored_after_it_restarts() {
    let mut own = crate::support::OwnEdge::start(8791, "");
    let site = own.edge.new_site(&[crate::support::ORIGIN]);
    let auth = format!("Bearer {}", site.admin_key);
    let body = json!({ "bot_token": BOT_TOKEN, "secret_token": SECRET });
    own.edge
        .json("PUT", &site.path("/channels/telegram"), Some(&site.admin_key), &body)
        .expect_ok(200);
    // The Telegram stand-in hangs, so the bot's answers hang on their way out and the inbox
    // holds a backlog (a message leaves it once its conversation is done with it). Eight chats
    // send 5 updates each; every one is acknowledged all the same.
    own.freeze_stand_in();
    let first = 7_700_000_000 + i64::from(std::process::id() % 1_000_000) * 100;
    let edge = &own.edge;
    let acknowledged: Vec<String> = std::thread::scope(|scope| {
        let runs: Vec<_> = (0..8)
            .map(|k| {
                let site = &site;
                scope.spawn(move || {
                    let chat = first + k;
                    (1..=5)
                        .map(|n| {
                            let text = format!("kept {chat} {n}");
                            let reply = edge.request(
                                "POST",
                                &site.path("/inbound/telegram"),
                                &[
                                    ("Content-Type", "application/json"),
                                    ("X-Telegram-Bot-Api-Secret-Token", SECRET),
                                ],
                                Some(update(chat, n, &text).to_string().as_bytes()),
                            );
                            assert_eq!(reply.expect_ok(200)["messages"], 1);
                            text
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        runs.into_iter().flat_map(|run| run.join().unwrap()).collect()
    });
    let channels = own
        .edge
        .request("GET", &site.path("/channels"), &[("Authorization", &auth)], None);
    let waiting = channels.expect_ok(200)["inbox"]["waiting"].as_u64().unwrap();
    assert!(
        waiting >= 32,
        "the inbox holds at least the 4 later updates of each chat: {waiting}"
    );
    own.crash();
    own.restart();

    // Local workerd forgets alarms when it dies (Cloudflare keeps them): the site's next request
    // (here, staff looking at the channels) re-arms the inbox, which hands on what it kept. The
    // first update of each chat reached its conversation before the crash and is handed on
    // again: stored once all the same.
    let started = std::time::Instant::now();
    loop {
        let channels = own
            .edge
            .request("GET", &site.path("/channels"), &[("Authorization", &auth)], None);
        if channels.expect_ok(200)["inbox"]["waiting"] == 0 {
            break;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(30),
            "the inbox drains"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let mut stored = Vec::new();
    for k in 0..8 {
        let texts = visitor_texts(&own.edge, &site, first + k);
        let expected: Vec<String> = (1..=5).map(|n| format!("kept {} {n}", first + k)).collect();
        assert_eq!(texts, expected, "each once, in the order sent");
        stored.extend(texts);
    }
    assert_eq!(stored.len(), acknowledged.len());
}
