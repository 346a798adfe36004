//! Linear: staff mark a conversation as a bug and a Linear issue is filed over GraphQL (the
//! customer's words escaped, a link back, once per conversation); Linear's webhook for that
//! issue (its `Linear-Signature` and `webhookTimestamp` checked) tells the customer it is fixed
//! on the channel they last wrote on. The stand-in (scripts/linear-stand-in.mjs) checks our
//! GraphQL as Linear does, and sends its webhooks as Linear's servers would.
//!
//! And the whole seed story end to end: Stripe's upgrade reaches the profile at once, the next
//! escalation's package shows the plan and the billing summary, the resolution is written back
//! to the CRM, and the bug's fix reaches the customer by email, where they are now.

use serde_json::{Value, json};

use crate::email::{deliver as deliver_email, raw_email, site_address};
use crate::identity::{now, unique_email};
use crate::integrations::{
    HUBSPOT_TOKEN, customer_session, deliver_signed, event, integration_of, set_up as set_up_stripe, stripe_customer,
    subscription, traits_of,
};
use crate::support::{Reply, Site, conversation_of, edge, poll, site_with_articles};
use crate::webhooks::{Receiver, add_endpoint, check_signed};

const LINEAR_KEY: &str = "lin_api_0123456789abcdefghijABCDEFGHIJ0123456789";
const LINEAR_SECRET: &str = "lin_wh_3f9c1d2e8b7a6054c3d2e1f0a9b8c7d6";

fn unique_uuid() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!(
        "{:08x}-{:04x}-4000-8000-{:012x}",
        std::process::id(),
        n & 0xffff,
        nanos & 0xffff_ffff_ffff
    )
}

/// Sets up Linear for `site` with a team (and a label) of its own in the stand-in, whose
/// webhooks go to the site; returns the team's id and the label's.
fn set_up_linear(site: &Site, extra: Value) -> (String, String) {
    let (team, label) = (unique_uuid(), unique_uuid());
    edge().stand_in_post(
        "linear/teams",
        Some(&json!({ "id": team, "key": "ENG", "labels": [label] })),
    );
    let url = format!("{}{}", edge().base, site.path("/integrations/linear/webhook"));
    edge().stand_in_post(
        "linear/webhook",
        Some(&json!({ "team": team, "url": url, "secret": LINEAR_SECRET })),
    );
    let mut body =
        json!({ "api_key": LINEAR_KEY, "team_id": team, "label_ids": [label], "webhook_secret": LINEAR_SECRET });
    for (key, value) in extra.as_object().unwrap() {
        body[key] = value.clone();
    }
    let reply = edge().json("PUT", &site.path("/integrations/linear"), Some(&site.admin_key), &body);
    let info = reply.expect_ok(200);
    let shown = info.to_string();
    assert!(
        !shown.contains(LINEAR_KEY) && !shown.contains(LINEAR_SECRET),
        "secrets are never echoed: {shown}"
    );
    assert_eq!(info["api_key_last4"], "6789");
    assert!(
        info["webhook_url"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/v1/sites/{}/integrations/linear/webhook", site.id)),
        "{info}"
    );
    (team, label)
}

fn mark_as_bug(site: &Site, conversation: &str, body: &Value) -> Reply {
    let path = site.path(&format!("/conversations/{conversation}/bug"));
    edge().json("POST", &path, Some(&site.admin_key), body)
}

/// The issues the stand-in holds for `team`.
fn issues_of(team: &str) -> Vec<Value> {
    edge()
        .stand_in_get("linear/issues")
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["teamId"] == team)
        .cloned()
        .collect()
}

/// Moves the issue in the stand-in, which sends Linear's webhook; answers what our edge said.
fn move_issue(issue: &str, query: &str) -> Value {
    let answer = edge().stand_in_post(&format!("linear/issues/{issue}/state?{query}"), None);
    let body = serde_json::from_str(answer["body"].as_str().unwrap()).unwrap_or(Value::Null);
    json!({ "status": answer["status"], "body": body })
}

fn staff_view(site: &Site, conversation: &str) -> Value {
    let auth = format!("Bearer {}", site.admin_key);
    edge()
        .request(
            "GET",
            &site.path(&format!("/conversations/{conversation}")),
            &[("Authorization", &auth)],
            None,
        )
        .expect_ok(200)
        .clone()
}

#[test]
fn a_bug_is_filed_once_its_failures_lose_nothing_and_only_a_signed_fresh_close_is_told() {
    let site = site_with_articles();
    let email = unique_email("bo");
    let session = customer_session(&site, &email, "attached");
    site.send(
        &session,
        "q1",
        "The *export* button does [nothing](https://evil.example)",
    )
    .expect_ok(200);
    let conversation = conversation_of(&site, &session);

    // Not set up: nothing to file in.
    mark_as_bug(&site, &conversation, &json!({})).expect_error(404, "not_found");
    let (team, label) = set_up_linear(&site, json!({ "fixed_message": "Fixed! Sorry for the trouble." }));

    // Settings are checked.
    for (body, field) in [
        (
            json!({ "api_key": "sk_live_nope", "team_id": team, "webhook_secret": LINEAR_SECRET }),
            "api_key",
        ),
        (
            json!({ "api_key": LINEAR_KEY, "team_id": "ENG", "webhook_secret": LINEAR_SECRET }),
            "team_id",
        ),
        (
            json!({ "api_key": LINEAR_KEY, "team_id": team, "webhook_secret": "short" }),
            "webhook_secret",
        ),
        (
            json!({ "api_key": LINEAR_KEY, "team_id": team, "webhook_secret": LINEAR_SECRET, "label_ids": ["x"] }),
            "label_ids",
        ),
        (
            json!({ "api_key": LINEAR_KEY, "team_id": team, "webhook_secret": LINEAR_SECRET, "fixed_message": "" }),
            "fixed_message",
        ),
    ] {
        let reply = edge().json("PUT", &site.path("/integrations/linear"), Some(&site.admin_key), &body);
        reply.expect_error(400, "invalid_field");
        assert_eq!(reply.body["error"]["field"], field, "{body}");
    }
    mark_as_bug(&site, &conversation, &json!({ "title": 42 })).expect_error(400, "invalid_field");
    mark_as_bug(&site, "c_nobody_here", &json!({})).expect_error(404, "unknown_conversation");

    // Linear down: a clear 502, nothing filed, and the admin API shows why; then it goes.
    edge().stand_in_post(&format!("linear/fail?count=1&status=500&match={team}"), None);
    let refused = mark_as_bug(&site, &conversation, &json!({}));
    refused.expect_error(502, "integration_failed");
    assert!(issues_of(&team).is_empty());
    assert!(
        integration_of(&site, "linear")["last_error"]
            .as_str()
            .unwrap()
            .contains("answered 500"),
    );
    let filed = mark_as_bug(&site, &conversation, &json!({ "details": "Reproduced in Firefox" }));
    let filed = filed.expect_ok(201).clone();
    assert_eq!(filed["created"], true);
    let issues = issues_of(&team);
    assert_eq!(issues.len(), 1, "{issues:?}");
    let issue = &issues[0];
    assert_eq!(filed["issue"]["id"], issue["id"]);
    assert_eq!(filed["issue"]["identifier"], "ENG-1");
    assert_eq!(issue["labelIds"], json!([label]));
    assert_eq!(issue["authorization"], "api_key");
    let description = issue["description"].as_str().unwrap();
    assert!(
        description.contains(r"The \*export\* button does \[nothing\]\(https://evil\.example\)"),
        "the customer's words are escaped: {description}"
    );
    assert!(description.contains("Reproduced in Firefox"), "{description}");
    assert!(description.contains(&conversation), "a link back: {description}");
    assert_eq!(
        issue["title"],
        "The *export* button does [nothing](https://evil.example)"
    );
    // Marked again: the same issue, nothing new filed.
    let again = mark_as_bug(&site, &conversation, &json!({}));
    assert_eq!(again.expect_ok(200)["issue"]["id"], issue["id"]);
    assert_eq!(again.body["created"], false);
    assert_eq!(issues_of(&team).len(), 1);
    let view = staff_view(&site, &conversation);
    let notes = view["notes"].to_string();
    assert!(notes.contains("Filed as a bug in Linear: ENG-1"), "{notes}");

    // Forged, or replayed later than Linear's minute: refused, the customer told nothing.
    let id = issue["id"].as_str().unwrap();
    let forged = move_issue(id, "type=completed&secret=lin_wh_someone_else_000000");
    assert_eq!(forged["status"], 401, "{forged}");
    assert_eq!(forged["body"]["error"]["code"], "invalid_signature");
    let stale = move_issue(id, "type=completed&age_ms=120000");
    assert_eq!(stale["status"], 401, "{stale}");
    assert!(
        stale["body"]["error"]["message"]
            .as_str()
            .unwrap()
            .contains("away from now")
    );
    let told = |view: &Value| -> Vec<Value> {
        view["messages"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["bot"]["kind"] == "bug_fixed")
            .cloned()
            .collect()
    };
    assert!(told(&staff_view(&site, &conversation)).is_empty());

    // Closed without a fix: a note for staff, the customer is not told.
    let canceled = move_issue(id, "type=canceled");
    assert_eq!(canceled["status"], 200, "{canceled}");
    assert_eq!(canceled["body"]["delivered_by"], "note");
    let view = staff_view(&site, &conversation);
    assert!(told(&view).is_empty());
    assert!(view["notes"].to_string().contains("without a fix"), "{view}");

    // Reopened, then fixed: told once, in the chat, in the site's words; a repeat is not told again.
    assert_eq!(move_issue(id, "type=started")["status"], 200);
    let fixed = move_issue(id, "type=completed");
    assert_eq!(fixed["status"], 200, "{fixed}");
    assert_eq!(fixed["body"]["applied"], true);
    let repeat = move_issue(id, "type=completed");
    assert_eq!(repeat["body"]["duplicate"], true, "{repeat}");
    let transcript = site.transcript(&session);
    let news: Vec<&Value> = transcript.iter().filter(|m| m["bot"]["kind"] == "bug_fixed").collect();
    assert_eq!(news.len(), 1, "{transcript:?}");
    assert_eq!(news[0]["text"], "Fixed! Sorry for the trouble.");
    assert_eq!(news[0]["bot"]["issue"], "ENG-1");

    // An issue nobody filed from here is acknowledged and ignored.
    let body = json!({"action": "update", "type": "Issue", "data": {"id": unique_uuid(), "state": {"type": "completed"}},
        "updatedFrom": {"stateId": "s"}, "webhookTimestamp": now() * 1000});
    let body = body.to_string();
    let signature = shared::linear::sign(LINEAR_SECRET, body.as_bytes());
    let reply = edge().request(
        "POST",
        &site.path("/integrations/linear/webhook"),
        &[("Content-Type", "application/json"), ("Linear-Signature", &signature)],
        Some(body.as_bytes()),
    );
    assert_eq!(reply.expect_ok(200)["applied"], false);
}

#[test]
fn the_seed_story_billing_in_crm_back_and_the_bug_fix_reaches_the_customer_by_email() {
    let site = site_with_articles();
    set_up_stripe(&site);
    let body = json!({ "access_token": HUBSPOT_TOKEN });
    edge()
        .json("PUT", &site.path("/integrations/hubspot"), Some(&site.admin_key), &body)
        .expect_ok(200);
    let (team, _) = set_up_linear(&site, json!({}));
    let receiver = Receiver::start(vec![]);
    let (_, secret) = add_endpoint(&site, &receiver.url, Some(json!(["conversation.escalated"])));
    let email = unique_email("seed");
    let customer = stripe_customer(json!({
        "email": email, "name": "Sam",
        "subscriptions": [{"status": "active", "items": {"data": [{"price": {"nickname": "Pro"}}]}}],
        "invoices": [{"number": "S-1", "status": "paid", "amount_due": 4900, "amount_paid": 4900}]
    }));
    let customer_id = customer["id"].as_str().unwrap().to_owned();
    let contact = edge().stand_in_post(
        "hubspot/contacts",
        Some(&json!({ "email": email, "firstname": "Sam", "company": "Acme" })),
    );
    let contact_id = contact["id"].as_str().unwrap().to_owned();

    // Sam is logged in on the site (which vouches for the email), and has just upgraded: Stripe's
    // webhook makes the profile's plan Pro at once.
    let session = customer_session(&site, &email, "attached");
    let upgrade = event(
        "evt_seed_upgrade",
        "customer.subscription.updated",
        now(),
        subscription(&customer_id, "Pro", "active"),
    );
    deliver_signed(&site, &upgrade).expect_ok(200);
    assert_eq!(traits_of(&site, &email)["plan"]["value"], "Pro");

    // The chat: the bot cannot help, Sam asks for a person; the package shows Pro, twice over.
    site.send(&session, "s1", "Exporting invoices to CSV crashes the page")
        .expect_ok(200);
    site.send(&session, "s2", "I want to talk to a person").expect_ok(200);
    let escalated = check_signed(&receiver.wait_for(1)[0], &secret);
    let data = &escalated["data"];
    assert_eq!(data["profile"]["traits"]["plan"]["value"], "Pro", "{escalated}");
    assert_eq!(data["billing"]["plan"], "Pro");
    assert_eq!(data["billing"]["status"], "active");
    assert_eq!(data["crm"]["id"], contact_id.as_str());
    let conversation = conversation_of(&site, &session);

    // Later Sam follows up by email: the same conversation, and now Sam is on email.
    let raw = raw_email(
        &email,
        &site_address(&site),
        "CSV export",
        &format!("seed-{customer_id}@example.com"),
        "",
        true,
        "Any news on the CSV export crash?",
    );
    assert_eq!(deliver_email(&email, &site_address(&site), &raw).0, 200);
    let view = staff_view(&site, &conversation);
    assert!(
        view["messages"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["channel"] == "email" && m["text"].as_str().unwrap().contains("Any news")),
        "{view}"
    );

    // Staff mark it as a bug: one Linear issue, with Sam's words and a link back; then resolve:
    // the CRM gets a note.
    let filed = mark_as_bug(&site, &conversation, &json!({ "title": "CSV export crashes" }));
    let issue_id = filed.expect_ok(201)["issue"]["id"].as_str().unwrap().to_owned();
    let issues = issues_of(&team);
    assert_eq!(issues.len(), 1);
    assert_eq!(issues[0]["title"], "CSV export crashes");
    let description = issues[0]["description"].as_str().unwrap();
    assert!(
        description.contains("Any news on the CSV export crash?"),
        "{description}"
    );
    assert!(description.contains("**Channels:** chat, email"), "{description}");
    let reply = json!({ "id": "r1", "text": "Thanks Sam, engineering is on it." });
    let path = site.path(&format!("/conversations/{conversation}/replies"));
    edge().json("POST", &path, Some(&site.admin_key), &reply).expect_ok(200);
    let path = site.path(&format!("/conversations/{conversation}/resolve"));
    edge()
        .json("POST", &path, Some(&site.admin_key), &json!({}))
        .expect_ok(200);
    let notes = poll(
        || {
            edge()
                .stand_in_get(&format!("hubspot/notes?contact={contact_id}"))
                .as_array()
                .unwrap()
                .clone()
        },
        1,
    );
    let note = notes[0]["properties"]["hs_note_body"].as_str().unwrap();
    assert!(note.contains("Exporting invoices to CSV"), "{note}");

    // Engineering closes the issue: Sam hears of the fix by email, in the same thread.
    let before = edge().mail_to(&email).len();
    let closed = move_issue(&issue_id, "type=completed");
    assert_eq!(closed["status"], 200, "{closed}");
    assert_eq!(closed["body"]["delivered_by"], "email", "{closed}");
    let mails = poll(|| edge().mail_to(&email), before + 1);
    let news = mails.last().unwrap();
    assert!(news["TextBody"].as_str().unwrap().contains("has been fixed"), "{news}");
    assert!(news["Subject"].as_str().unwrap().contains("CSV export"), "{news}");
    let shown = integration_of(&site, "linear");
    assert!(shown["last_error"].is_null() && shown["last_ok_at"].is_u64(), "{shown}");
}

#[test]
fn two_staff_marking_the_same_bug_at_once_file_one_issue() {
    let site = site_with_articles();
    let session = customer_session(&site, &unique_email("twice"), "attached");
    site.send(&session, "q1", "Invoices show the wrong currency")
        .expect_ok(200);
    let conversation = conversation_of(&site, &session);
    let (team, _) = set_up_linear(&site, json!({}));
    // Linear takes a while with this one: the second mark comes while the first is being filed.
    edge().stand_in_post(&format!("linear/slow?count=1&ms=1500&match={team}"), None);
    let marks: Vec<Reply> = std::thread::scope(|scope| {
        let first = scope.spawn(|| mark_as_bug(&site, &conversation, &json!({})));
        std::thread::sleep(std::time::Duration::from_millis(400));
        let second = scope.spawn(|| mark_as_bug(&site, &conversation, &json!({})));
        vec![first.join().unwrap(), second.join().unwrap()]
    });
    assert_eq!(marks[0].status, 201, "{:?}", marks[0].body);
    marks[1].expect_error(429, "rate_limited");
    assert!(marks[1].header("Retry-After").is_some());
    assert_eq!(issues_of(&team).len(), 1, "one issue");
    // Asked again a moment later: the issue filed.
    let again = mark_as_bug(&site, &conversation, &json!({}));
    assert_eq!(again.expect_ok(200)["issue"]["id"], marks[0].body["issue"]["id"]);
}
