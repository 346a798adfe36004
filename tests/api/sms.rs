//! SMS through Twilio: a site sets up its number, inbound webhooks are accepted only with a
//! valid `X-Twilio-Signature`, the bot answers by SMS through the Messages API (a local stand-in
//! that checks requests as Twilio does), retries are stored once, STOP/START/HELP are honoured,
//! and a staff reply goes back by SMS to a customer who last texted.

use serde_json::{Value, json};

use crate::continuation::{identity, invite};
use crate::identity::profiles;
use crate::support::{Reply, Site, edge, poll, site_with_articles};

const TOKEN: &str = "fedcba9876543210fedcba9876543210";
const ACCOUNT: &str = "AC0123456789abcdef0123456789abcdef";
const OUR_NUMBER: &str = "+14155550199";

fn set_up(site: &Site) {
    let body = json!({ "account_sid": ACCOUNT, "auth_token": TOKEN, "from": OUR_NUMBER });
    let reply = edge().json("PUT", &site.path("/channels/sms"), Some(&site.admin_key), &body);
    let info = reply.expect_ok(200);
    assert!(info.get("auth_token").is_none(), "the token is never echoed");
    assert!(
        info["webhook_url"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/v1/sites/{}/inbound/sms/twilio", site.id))
    );
}

/// Posts an inbound SMS as Twilio does, signed with `token`.
fn text_in(site: &Site, token: &str, params: &[(&str, &str)]) -> Reply {
    let path = site.path("/inbound/sms/twilio");
    let url = format!("{}{path}", edge().base);
    let pairs: Vec<(String, String)> = params.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
    let signature = shared::sms::signature(token, &url, &pairs);
    let body: String = pairs
        .iter()
        .map(|(k, v)| format!("{k}={}", form_encode(v)))
        .collect::<Vec<_>>()
        .join("&");
    let reply = edge().request(
        "POST",
        &path,
        &[
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("X-Twilio-Signature", &signature),
        ],
        Some(body.as_bytes()),
    );
    if reply.status == 200 {
        site.settle_inbox();
    }
    reply
}

pub fn form_encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            b' ' => "+".to_owned(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

pub fn unique_number() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let n = std::process::id() as u64 * 1000 + N.fetch_add(1, Ordering::Relaxed);
    format!("+1415{:07}", n % 10_000_000)
}

pub fn wait_for_sms(to: &str, n: usize) -> Vec<Value> {
    poll(|| edge().sms_to(to), n)
}

#[test]
fn a_signed_sms_is_answered_by_sms_once() {
    let site = site_with_articles();
    set_up(&site);
    let customer = unique_number();
    let question = [
        ("MessageSid", "SM00000000000000000000000000000001"),
        ("From", customer.as_str()),
        ("To", OUR_NUMBER),
        ("Body", "how do I reset my password?"),
    ];
    // Forged or missing signatures are refused and change nothing.
    text_in(&site, "ffffffffffffffffffffffffffffffff", &question).expect_error(401, "invalid_signature");
    let unsigned = edge().request(
        "POST",
        &site.path("/inbound/sms/twilio"),
        &[("Content-Type", "application/x-www-form-urlencoded")],
        Some(b"MessageSid=SM1&From=%2B14155550100&Body=hi"),
    );
    unsigned.expect_error(401, "invalid_signature");
    assert!(edge().sms_to(&customer).is_empty());

    let reply = text_in(&site, TOKEN, &question);
    assert_eq!(reply.status, 200);
    assert!(reply.header("content-type").unwrap().starts_with("text/xml"));
    let sent = wait_for_sms(&customer, 1);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0]["from"], OUR_NUMBER);
    assert!(
        sent[0]["body"].as_str().unwrap().contains("Forgot password"),
        "{sent:?}"
    );
    // Twilio retries the same webhook: stored once, answered once.
    assert_eq!(text_in(&site, TOKEN, &question).status, 200);
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert_eq!(edge().sms_to(&customer).len(), 1);

    let found = profiles(&site, &format!("phone:{}", customer.replace('+', "%2B")));
    assert_eq!(found.len(), 1);
    let phone = found[0]["identities"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["kind"] == "phone")
        .unwrap()
        .clone();
    assert_eq!(
        phone["verified"], false,
        "a number texting in is a claim until verified"
    );

    // A signed request without a sender is a clear 400.
    text_in(&site, TOKEN, &[("MessageSid", "SM2"), ("Body", "hi")]).expect_error(400, "invalid_field");
}

#[test]
fn stop_start_and_help_are_honoured() {
    let site = site_with_articles();
    set_up(&site);
    let customer = unique_number();
    let sms = |sid: &str, body: &str| {
        text_in(
            &site,
            TOKEN,
            &[
                ("MessageSid", sid),
                ("From", customer.as_str()),
                ("To", OUR_NUMBER),
                ("Body", body),
            ],
        )
    };
    let help = sms("SMh", "HELP");
    assert_eq!(help.status, 200);
    let stop = sms("SMs", "Stop");
    assert_eq!(stop.status, 200);
    // Opted out: the question is kept, but nothing is texted back.
    assert_eq!(sms("SMq1", "can I get a refund").status, 200);
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert!(edge().sms_to(&customer).is_empty(), "nothing after STOP");
    assert_eq!(sms("SMst", "START").status, 200);
    assert_eq!(sms("SMq2", "can I get a refund").status, 200);
    let sent = wait_for_sms(&customer, 1);
    assert_eq!(sent.len(), 1, "answers again after START: {sent:?}");
}

#[test]
fn a_staff_reply_goes_back_by_sms() {
    let site = site_with_articles();
    set_up(&site);
    let customer = unique_number();
    let question = [
        ("MessageSid", "SM00000000000000000000000000000009"),
        ("From", customer.as_str()),
        ("To", OUR_NUMBER),
        ("Body", "I need to talk to a human about my bill"),
    ];
    assert_eq!(text_in(&site, TOKEN, &question).status, 200);
    wait_for_sms(&customer, 1);
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
        &json!({ "id": "r1", "text": "Hi, this is Sam from billing. Checking your bill now." }),
    );
    assert_eq!(reply.expect_ok(200)["delivered_by"], "sms");
    let sent = wait_for_sms(&customer, 2);
    assert_eq!(sent[1]["body"], "Hi, this is Sam from billing. Checking your bill now.");
}

#[test]
fn sms_set_up_is_validated_and_needed() {
    let site = site_with_articles();
    let question = [("MessageSid", "SM1"), ("From", "+14155550100"), ("Body", "hi")];
    text_in(&site, TOKEN, &question).expect_error(404, "not_found");
    for (field, body) in [
        (
            "account_sid",
            json!({ "account_sid": "nope", "auth_token": TOKEN, "from": OUR_NUMBER }),
        ),
        (
            "auth_token",
            json!({ "account_sid": ACCOUNT, "auth_token": "short", "from": OUR_NUMBER }),
        ),
        (
            "from",
            json!({ "account_sid": ACCOUNT, "auth_token": TOKEN, "from": "555" }),
        ),
    ] {
        let reply = edge().json("PUT", &site.path("/channels/sms"), Some(&site.admin_key), &body);
        assert_eq!(reply.expect_error(400, "invalid_field").body["error"]["field"], field);
    }
    set_up(&site);
    let listed = edge().request(
        "GET",
        &site.path("/channels"),
        &[("Authorization", &format!("Bearer {}", site.admin_key))],
        None,
    );
    let channels = listed.expect_ok(200)["channels"].as_array().unwrap().clone();
    assert_eq!(channels.len(), 1);
    assert!(!channels[0].to_string().contains(TOKEN));
    let deleted = edge().request(
        "DELETE",
        &site.path("/channels/sms"),
        &[("Authorization", &format!("Bearer {}", site.admin_key))],
        None,
    );
    deleted.expect_ok(200);
    text_in(&site, TOKEN, &question).expect_error(404, "not_found");
}

#[test]
fn a_number_that_texts_the_widgets_code_joins_the_customer_and_later_texts_follow() {
    let site = site_with_articles();
    set_up(&site);
    let session = site.session();
    site.send(&session, "c1", "can I get a refund").expect_ok(200);
    let invitation = invite(&site, &session, "sms");
    let link = invitation["link"].as_str().unwrap();
    assert!(link.starts_with(&format!("sms:{OUR_NUMBER}?body=")), "{link}");
    let customer = unique_number();
    // Typed by hand, in lower case, on a phone.
    let typed = invitation["code"].as_str().unwrap().to_lowercase();
    let first = [
        ("MessageSid", "SM00000000000000000000000000000c01"),
        ("From", customer.as_str()),
        ("To", OUR_NUMBER),
        ("Body", typed.as_str()),
    ];
    assert_eq!(text_in(&site, TOKEN, &first).status, 200);
    let sent = wait_for_sms(&customer, 1);
    assert!(
        sent[0]["body"].as_str().unwrap().starts_with("You're connected"),
        "{sent:?}"
    );
    let owners = profiles(&site, &format!("phone:{}", customer.replace('+', "%2B")));
    assert_eq!(owners.len(), 1);
    let record = identity(&owners[0], "phone", &customer).unwrap();
    assert_eq!(record["verified"], true);
    assert_eq!(record["proof"], json!({"method": "continue_code", "channel": "sms"}));

    // A later text without a code lands in the same conversation, and is answered by SMS.
    let later = [
        ("MessageSid", "SM00000000000000000000000000000c02"),
        ("From", customer.as_str()),
        ("To", OUR_NUMBER),
        ("Body", "how do I reset my password?"),
    ];
    assert_eq!(text_in(&site, TOKEN, &later).status, 200);
    let sent = wait_for_sms(&customer, 2);
    assert!(sent[1]["body"].as_str().unwrap().contains("password"), "{sent:?}");
    let channels = site.visitor_messages(&session, "channel");
    assert_eq!(channels, ["chat", "sms", "sms"]);
    assert_eq!(
        profiles(&site, &format!("phone:{}", customer.replace('+', "%2B")))[0]["id"],
        owners[0]["id"],
        "still one customer"
    );
}

#[test]
fn a_code_for_another_channel_or_a_made_up_one_links_nothing() {
    let site = site_with_articles();
    set_up(&site);
    let session = site.session();
    let for_email = invite(&site, &session, "email");
    let customer = unique_number();
    let attempts = [
        (
            "SM00000000000000000000000000000d01",
            for_email["code"].as_str().unwrap(),
            "another channel",
        ),
        ("SM00000000000000000000000000000d02", "TL-ZZZZZZZZ", "don't recognise"),
    ];
    for (n, (sid, body, says)) in attempts.into_iter().enumerate() {
        let params = [
            ("MessageSid", sid),
            ("From", customer.as_str()),
            ("To", OUR_NUMBER),
            ("Body", body),
        ];
        assert_eq!(text_in(&site, TOKEN, &params).status, 200);
        let sent = wait_for_sms(&customer, n + 1);
        assert!(sent[n]["body"].as_str().unwrap().contains(says), "{says}: {sent:?}");
    }
    // The number stays a claim: nobody holds it verified, and the chat got nothing.
    for profile in profiles(&site, &format!("phone:{}", customer.replace('+', "%2B"))) {
        assert_eq!(identity(&profile, "phone", &customer).unwrap()["verified"], false);
    }
    assert!(site.transcript(&session).is_empty());
}

#[test]
fn texts_from_a_number_the_site_vouched_for_join_that_customers_conversation() {
    let site = site_with_articles();
    set_up(&site);
    let customer = unique_number();
    let secret = crate::identity::new_secret(&site);
    let claims = json!({"sub": "cust-sms", "aud": site.id, "exp": crate::identity::now() + 300, "phone": customer});
    let session = site.session();
    site.send(&session, "c1", "can I get a refund").expect_ok(200);
    let session = crate::identity::identify_ok(&site, &session, &secret.token(claims), "attached");
    let params = [
        ("MessageSid", "SM00000000000000000000000000000e01"),
        ("From", customer.as_str()),
        ("To", OUR_NUMBER),
        ("Body", "how do I reset my password?"),
    ];
    assert_eq!(text_in(&site, TOKEN, &params).status, 200);
    wait_for_sms(&customer, 1);
    let channels = site.visitor_messages(&session, "channel");
    assert_eq!(channels, ["chat", "sms"]);
}

#[test]
fn an_answer_the_provider_could_not_take_during_an_outage_is_sent_again_once() {
    let site = site_with_articles();
    set_up(&site);
    let customer = unique_number();
    // Twilio is down for this number's next two sends.
    edge().fail_sends_to(&customer, 2, 503);
    let question = |sid: &str| {
        [
            ("MessageSid", sid.to_owned()),
            ("From", customer.clone()),
            ("To", OUR_NUMBER.to_owned()),
            ("Body", "how do I reset my password?".to_owned()),
        ]
    };
    let text = |params: [(&str, String); 4]| {
        let params: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
        text_in(&site, TOKEN, &params).status
    };
    assert_eq!(
        text(question("SM00000000000000000000000000000f01")),
        200,
        "acknowledged"
    );
    assert!(edge().sms_to(&customer).is_empty(), "not sent yet");
    // Retried (a second apart here) until Twilio takes it: exactly once.
    let sent = wait_for_sms(&customer, 1);
    assert_eq!(sent.len(), 1);
    assert!(
        sent[0]["body"].as_str().unwrap().contains("Forgot password"),
        "{sent:?}"
    );

    // A lasting refusal (Twilio's 400: this number cannot receive) is not retried.
    edge().fail_sends_to(&customer, 1, 400);
    assert_eq!(text(question("SM00000000000000000000000000000f02")), 200);
    std::thread::sleep(std::time::Duration::from_millis(3000));
    assert_eq!(
        edge().sms_to(&customer).len(),
        1,
        "the first answer once, the refused one never"
    );
}
