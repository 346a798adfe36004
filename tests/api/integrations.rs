//! Integrations: Stripe's webhooks (their `Stripe-Signature` checked with its timestamp
//! tolerance, each event applied once and never over a newer one) keep the customer's billing
//! traits current at once, and an escalation's package carries the customer's billing summary
//! from Stripe's REST API (a local stand-in, scripts/stripe-stand-in.mjs, that checks requests
//! as Stripe does), while a failing or slow Stripe shows in the admin API and never holds a
//! conversation up. HubSpot's contact joins the package and the profile, and each resolution is
//! written back to it as a note, retried through the CRM's failures (stand-in:
//! scripts/hubspot-stand-in.mjs).

use serde_json::{Value, json};

use crate::identity::{identify_ok, new_secret, now, profiles, unique_email};
use crate::support::{Reply, Site, edge, site_with_articles};
use crate::webhooks::{Receiver, add_endpoint, check_signed};

const API_KEY: &str = "sk_test_4eC39HqLyjWDarjtT1zdp7dc";
const SIGNING_SECRET: &str = "whsec_test_5f1d8e0b2c3a4f6e7d8c9b0a";

pub(crate) fn set_up(site: &Site) -> Value {
    let body = json!({ "api_key": API_KEY, "webhook_secret": SIGNING_SECRET });
    let reply = edge().json("PUT", &site.path("/integrations/stripe"), Some(&site.admin_key), &body);
    let info = reply.expect_ok(200).clone();
    let shown = info.to_string();
    assert!(
        !shown.contains(API_KEY) && !shown.contains(SIGNING_SECRET),
        "secrets are never echoed: {shown}"
    );
    assert_eq!(info["api_key_last4"], "p7dc");
    assert_eq!(info["mode"], "test");
    info
}

/// Adds a customer to the Stripe stand-in.
pub(crate) fn stripe_customer(customer: Value) -> Value {
    edge().stand_in_post("stripe/customers", Some(&customer))
}

/// Makes the Stripe stand-in fail or slow down (`fail?…`, `slow?…`).
fn stripe_control(what: &str) {
    edge().stand_in_post(&format!("stripe/{what}"), None);
}

/// A Stripe event as Stripe sends it.
pub(crate) fn event(id: &str, kind: &str, created: u64, object: Value) -> String {
    json!({"id": id, "object": "event", "api_version": "2024-06-20", "type": kind, "created": created,
        "livemode": false, "pending_webhooks": 1, "data": {"object": object, "previous_attributes": {}}})
    .to_string()
}

fn deliver(site: &Site, body: &str, signature: Option<String>) -> Reply {
    let mut headers = vec![("Content-Type", "application/json")];
    let signature = signature.unwrap_or_default();
    if !signature.is_empty() {
        headers.push(("Stripe-Signature", signature.as_str()));
    }
    edge().request(
        "POST",
        &site.path("/integrations/stripe/webhook"),
        &headers,
        Some(body.as_bytes()),
    )
}

/// Delivers `body` signed now with the site's signing secret.
pub(crate) fn deliver_signed(site: &Site, body: &str) -> Reply {
    deliver(
        site,
        body,
        Some(shared::stripe::sign(SIGNING_SECRET, now(), body.as_bytes())),
    )
}

pub(crate) fn subscription(customer: &str, plan: &str, status: &str) -> Value {
    json!({"id": format!("sub_{customer}"), "object": "subscription", "customer": customer, "status": status,
        "items": {"object": "list", "data": [{"id": "si_1", "price": {"id": format!("price_{plan}"), "nickname": plan, "unit_amount": 4900, "currency": "usd"}}]}})
}

pub(crate) fn traits_of(site: &Site, email: &str) -> Value {
    let found = profiles(site, &format!("email:{email}"));
    assert_eq!(found.len(), 1, "{found:?}");
    found[0]["traits"].clone()
}

/// The site's integration `kind` as the admin API shows it.
pub(crate) fn integration_of(site: &Site, kind: &str) -> Value {
    let auth = format!("Bearer {}", site.admin_key);
    let reply = edge().request("GET", &site.path("/integrations"), &[("Authorization", &auth)], None);
    let list = reply.expect_ok(200)["integrations"].as_array().unwrap().clone();
    list.into_iter()
        .find(|i| i["kind"] == kind)
        .unwrap_or_else(|| panic!("no {kind} integration"))
}

fn integration(site: &Site) -> Value {
    integration_of(site, "stripe")
}

/// A visitor the site vouches for as `email` (`outcome`: `attached` for someone new); returns
/// their session.
pub(crate) fn customer_session(site: &Site, email: &str, outcome: &str) -> String {
    let secret = new_secret(site);
    let claims = json!({"sub": format!("user-{email}"), "aud": site.id, "exp": now() + 300, "email": email});
    identify_ok(site, &site.session(), &secret.token(claims), outcome)
}

#[test]
fn stripe_webhooks_are_verified_and_keep_the_customer_s_billing_traits_current() {
    let site = site_with_articles();
    let email = unique_email("ana");
    let customer = stripe_customer(json!({ "email": email, "name": "Ana" }));
    let id = customer["id"].as_str().unwrap().to_owned();
    customer_session(&site, &email, "attached");

    // Not set up yet: nothing to verify with.
    let upgrade = event(
        "evt_up_1",
        "customer.subscription.updated",
        now(),
        subscription(&id, "Pro", "active"),
    );
    deliver_signed(&site, &upgrade).expect_error(404, "not_found");
    set_up(&site);

    // Unsigned, wrongly signed, or replayed outside the tolerance: refused, nothing changed.
    deliver(&site, &upgrade, None).expect_error(401, "invalid_signature");
    let forged = shared::stripe::sign("whsec_someone_else_entirely", now(), upgrade.as_bytes());
    deliver(&site, &upgrade, Some(forged)).expect_error(401, "invalid_signature");
    let stale = shared::stripe::sign(SIGNING_SECRET, now() - 600, upgrade.as_bytes());
    let refused = deliver(&site, &upgrade, Some(stale));
    refused.expect_error(401, "invalid_signature");
    assert!(
        refused.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("away from now")
    );
    let tampered = shared::stripe::sign(SIGNING_SECRET, now(), upgrade.as_bytes());
    deliver(&site, &upgrade.replace("Pro", "Enterprise"), Some(tampered)).expect_error(401, "invalid_signature");
    assert!(traits_of(&site, &email).get("plan").is_none(), "nothing was changed");

    // The upgrade: the plan changes at once (the email looked up through Stripe's API).
    let applied = deliver_signed(&site, &upgrade);
    assert_eq!(applied.expect_ok(200)["applied"], true, "{:?}", applied.body);
    let traits = traits_of(&site, &email);
    assert_eq!(traits["plan"]["value"], "Pro");
    assert_eq!(traits["plan"]["verified"], true);
    assert_eq!(traits["subscription_status"]["value"], "active");
    assert_eq!(traits["stripe_customer_id"]["value"], id.as_str());
    // Stripe delivers at least once: the same event is applied once.
    assert_eq!(deliver_signed(&site, &upgrade).expect_ok(200)["duplicate"], true);
    // An older event arriving late never overwrites a newer one.
    let late = event(
        "evt_old_1",
        "customer.subscription.updated",
        now() - 3600,
        subscription(&id, "Free", "active"),
    );
    deliver_signed(&site, &late).expect_ok(200);
    assert_eq!(traits_of(&site, &email)["plan"]["value"], "Pro");

    // A failed payment, then the same invoice paid (delivered as two event types): counted once.
    let invoice = |paid: u64| json!({"id": "in_A1", "object": "invoice", "customer": id, "customer_email": email, "amount_paid": paid, "amount_due": 4900, "currency": "usd"});
    deliver_signed(&site, &event("evt_fail_1", "invoice.payment_failed", now(), invoice(0))).expect_ok(200);
    assert_eq!(traits_of(&site, &email)["last_payment_failed"]["value"], true);
    deliver_signed(&site, &event("evt_paid_1", "invoice.paid", now() + 1, invoice(4900))).expect_ok(200);
    deliver_signed(
        &site,
        &event("evt_paid_2", "invoice.payment_succeeded", now() + 2, invoice(4900)),
    )
    .expect_ok(200);
    let paid = json!({"id": "in_A2", "object": "invoice", "customer": id, "customer_email": email, "amount_paid": 2500, "currency": "usd"});
    deliver_signed(&site, &event("evt_paid_3", "invoice.paid", now() + 3, paid)).expect_ok(200);
    let traits = traits_of(&site, &email);
    assert_eq!(
        traits["lifetime_value"]["value"], 74.0,
        "49 + 25, each invoice once: {traits}"
    );
    assert_eq!(traits["last_payment_failed"]["value"], false);

    // Events support does not need are acknowledged and left alone; a body that is not an
    // event is refused with a reason.
    let other = event(
        "evt_x",
        "charge.dispute.created",
        now(),
        json!({"id": "du_1", "customer": id}),
    );
    assert_eq!(deliver_signed(&site, &other).expect_ok(200)["applied"], false);
    deliver_signed(&site, "{\"hello\": 1}").expect_error(400, "invalid_field");

    // A paying customer who never contacted support gets a profile, so their first chat knows.
    let newcomer = unique_email("newcomer");
    let customer = stripe_customer(json!({ "email": newcomer }));
    let id = customer["id"].as_str().unwrap();
    deliver_signed(
        &site,
        &event(
            "evt_new_1",
            "customer.subscription.created",
            now(),
            subscription(id, "Team", "trialing"),
        ),
    )
    .expect_ok(200);
    let traits = traits_of(&site, &newcomer);
    assert_eq!(traits["plan"]["value"], "Team");
    let found = profiles(&site, &format!("email:{newcomer}"));
    assert_eq!(found[0]["identities"][0]["proof"]["method"], "integration");

    let shown = integration(&site);
    assert!(
        shown["last_ok_at"].as_u64().is_some() && shown["last_error"].is_null(),
        "{shown}"
    );
}

#[test]
fn an_escalation_carries_the_billing_summary_and_a_failing_stripe_never_holds_it_up() {
    let site = site_with_articles();
    set_up(&site);
    let receiver = Receiver::start(vec![]);
    let (_, secret) = add_endpoint(&site, &receiver.url, Some(json!(["conversation.escalated"])));
    // A paying customer in Stripe; returns their email.
    let paying = |tag: &str| {
        let email = unique_email(tag);
        stripe_customer(json!({
            "email": email, "name": "Bea",
            "subscriptions": [{"status": "canceled", "items": {"data": [{"price": {"nickname": "Basic"}}]}},
                              {"status": "active", "items": {"data": [{"price": {"nickname": "Pro"}}]}}],
            "invoices": [{"number": "B-1", "status": "paid", "amount_due": 4900, "amount_paid": 4900},
                         {"number": "B-2", "status": "open", "amount_due": 4900, "amount_paid": 0}]
        }));
        email
    };
    let email = paying("billing");
    let session = customer_session(&site, &email, "attached");
    site.send(
        &session,
        "q1",
        "I was charged but my invoice is still open, I want a person",
    )
    .expect_ok(200);
    let event = check_signed(&receiver.wait_for(1)[0], &secret);
    let billing = &event["data"]["billing"];
    assert_eq!(billing["plan"], "Pro", "{event}");
    assert_eq!(billing["status"], "active");
    assert_eq!(billing["paid_total"], 49.0);
    assert_eq!(billing["invoices"][0]["number"], "B-2");
    assert_eq!(billing["invoices"][0]["status"], "open");
    assert!(
        billing["dashboard_url"]
            .as_str()
            .unwrap()
            .starts_with("https://dashboard.stripe.com/customers/cus_")
    );
    let requests = edge().stand_in_get("stripe/requests");
    assert!(
        requests
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["query"]["email"] == email.as_str()),
        "looked up by email"
    );

    // Stripe down: the escalation still goes out at once, without billing, and the admin API
    // says what went wrong.
    // (Faults are scoped to this customer's email: other tests share the stand-in.)
    let email = paying("outage");
    stripe_control(&format!("fail?count=4&status=500&match={email}"));
    let other = customer_session(&site, &email, "attached");
    site.send(&other, "q2", "I want to talk to a person").expect_ok(200);
    let event = check_signed(&receiver.wait_for(2)[1], &secret);
    assert!(event["data"]["billing"].is_null(), "{event}");
    let shown = integration(&site);
    assert!(
        shown["last_error"].as_str().unwrap().contains("answered 500"),
        "{shown}"
    );

    // Stripe slow: the package waits at most a few seconds, then goes without.
    let email = paying("slow");
    stripe_control(&format!("slow?count=4&ms=8000&match={email}"));
    let started = std::time::Instant::now();
    let third = customer_session(&site, &email, "attached");
    site.send(&third, "q3", "I want to talk to a person").expect_ok(200);
    let event = check_signed(&receiver.wait_for(3)[2], &secret);
    assert!(event["data"]["billing"].is_null());
    assert!(
        started.elapsed() < std::time::Duration::from_secs(8),
        "never held up by Stripe"
    );
    assert!(
        integration(&site)["last_error"]
            .as_str()
            .unwrap()
            .contains("did not answer within")
    );

    // Settings are checked; removing the integration stops its webhook.
    for (body, field) in [
        (
            json!({ "api_key": "pk_test_publishable", "webhook_secret": SIGNING_SECRET }),
            "api_key",
        ),
        (
            json!({ "api_key": API_KEY, "webhook_secret": "secret" }),
            "webhook_secret",
        ),
    ] {
        let reply = edge().json("PUT", &site.path("/integrations/stripe"), Some(&site.admin_key), &body);
        reply.expect_error(400, "invalid_field");
        assert_eq!(reply.body["error"]["field"], field);
    }
    edge()
        .json(
            "PUT",
            &site.path("/integrations/nope"),
            Some(&site.admin_key),
            &json!({}),
        )
        .expect_error(404, "not_found");
    let auth = format!("Bearer {}", site.admin_key);
    edge()
        .request(
            "DELETE",
            &site.path("/integrations/stripe"),
            &[("Authorization", &auth)],
            None,
        )
        .expect_ok(200);
    let body = event_body();
    deliver_signed(&site, &body).expect_error(404, "not_found");
}

fn event_body() -> String {
    event(
        "evt_gone",
        "customer.updated",
        now(),
        json!({"id": "cus_gone", "email": "x@example.com"}),
    )
}

pub(crate) const HUBSPOT_TOKEN: &str = "pat-na1-11111111-2222-3333-4444-555555555555";

#[test]
fn the_crm_contact_joins_the_package_and_each_resolution_is_written_back_once() {
    let site = site_with_articles();
    let body = json!({ "access_token": HUBSPOT_TOKEN, "properties": ["company", "lifecyclestage"] });
    let reply = edge().json("PUT", &site.path("/integrations/hubspot"), Some(&site.admin_key), &body);
    let shown = reply.expect_ok(200).to_string();
    assert!(!shown.contains(HUBSPOT_TOKEN), "the token is never echoed: {shown}");
    let receiver = Receiver::start(vec![]);
    let (_, secret) = add_endpoint(&site, &receiver.url, Some(json!(["conversation.escalated"])));
    let email = unique_email("cleo");
    let contact = edge().stand_in_post(
        "hubspot/contacts",
        Some(&json!({ "email": email, "firstname": "Cleo", "company": "Acme <Labs>", "lifecyclestage": "customer" })),
    );
    let contact_id = contact["id"].as_str().unwrap().to_owned();

    // The escalation package carries the CRM contact, and its fields join the profile.
    let session = customer_session(&site, &email, "attached");
    site.send(&session, "q1", "I forgot my password").expect_ok(200);
    site.send(&session, "q2", "that did not work, I want a person")
        .expect_ok(200);
    let event = check_signed(&receiver.wait_for(1)[0], &secret);
    let crm = &event["data"]["crm"];
    assert_eq!(crm["id"], contact_id.as_str(), "{event}");
    assert_eq!(crm["properties"]["lifecyclestage"], "customer");
    let traits = traits_of(&site, &email);
    assert_eq!(traits["crm_lifecyclestage"]["value"], "customer");
    assert_eq!(traits["crm_contact_id"]["value"], contact_id.as_str());

    // Resolved: a note on the contact says what happened. The CRM fails the first write, and
    // the note still arrives, once.
    edge().stand_in_post("hubspot/fail?count=1&status=503&match=hs_note_body", None);
    let conversation = crate::support::conversation_of(&site, &session);
    let staff = |path: &str, body: Value| {
        let path = site.path(&format!("/conversations/{conversation}/{path}"));
        edge()
            .json("POST", &path, Some(&site.admin_key), &body)
            .expect_ok(200)
            .clone()
    };
    staff(
        "replies",
        json!({ "id": "r1", "text": "I reset it for you: check your inbox." }),
    );
    staff("resolve", json!({ "team": "accounts" }));
    let notes = crate::support::poll(
        || {
            edge()
                .stand_in_get(&format!("hubspot/notes?contact={contact_id}"))
                .as_array()
                .unwrap()
                .clone()
        },
        1,
    );
    assert_eq!(notes.len(), 1, "{notes:?}");
    let text = notes[0]["properties"]["hs_note_body"].as_str().unwrap();
    assert!(text.contains("I forgot my password"), "{text}");
    assert!(text.contains("I reset it for you: check your inbox."), "{text}");
    assert!(
        text.contains("resolved by accounts after escalation (visitor_asked"),
        "{text}"
    );
    assert!(text.contains("<strong>Channels:</strong> chat"), "{text}");
    std::thread::sleep(std::time::Duration::from_secs(3));
    let again = edge().stand_in_get(&format!("hubspot/notes?contact={contact_id}"));
    assert_eq!(again.as_array().unwrap().len(), 1, "written once");
    let shown = integration_of(&site, "hubspot");
    assert!(
        shown["last_error"].is_null() && shown["last_ok_at"].as_u64().is_some(),
        "{shown}"
    );

    for (body, field) in [
        (json!({ "access_token": "short" }), "access_token"),
        (
            json!({ "access_token": HUBSPOT_TOKEN, "properties": ["Bad Name"] }),
            "properties",
        ),
    ] {
        let reply = edge().json("PUT", &site.path("/integrations/hubspot"), Some(&site.admin_key), &body);
        reply.expect_error(400, "invalid_field");
        assert_eq!(reply.body["error"]["field"], field);
    }
}

/// A site's own connector: answers every lookup with `traits` after `delay_ms` (changeable),
/// and keeps what it was asked.
struct Connector {
    url: String,
    asked: std::sync::Arc<std::sync::Mutex<Vec<crate::webhooks::Received>>>,
    delay_ms: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl Connector {
    fn start(traits: Value) -> Connector {
        use std::io::Write as _;
        use std::sync::atomic::Ordering;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://127.0.0.1:{}/lookup", listener.local_addr().unwrap().port());
        let asked = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let delay_ms = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let (log, delay) = (asked.clone(), delay_ms.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let Some(request) = crate::webhooks::read_request(&mut stream) else {
                    continue;
                };
                log.lock().unwrap().push(request);
                let body = json!({ "traits": traits }).to_string();
                let wait = delay.load(Ordering::Relaxed);
                std::thread::spawn(move || {
                    std::thread::sleep(std::time::Duration::from_millis(wait));
                    let _ = write!(
                        stream,
                        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    );
                });
            }
        });
        Connector { url, asked, delay_ms }
    }
}

#[test]
fn a_site_s_own_connector_is_asked_signed_its_answer_cached_and_a_slow_one_left_out() {
    use std::sync::atomic::Ordering;
    let site = site_with_articles();
    let connector = Connector::start(json!({ "tier": "gold", "seats": 40, "account_manager": "Priya" }));
    let body = json!({ "url": connector.url, "cache_secs": 60, "timeout_ms": 800 });
    let reply = edge().json(
        "PUT",
        &site.path("/integrations/connector"),
        Some(&site.admin_key),
        &body,
    );
    let created = reply.expect_ok(200).clone();
    let secret = shared::webhook::WebhookSecret::parse(created["secret"].as_str().unwrap()).unwrap();
    assert!(integration_of(&site, "connector").get("secret").is_none(), "shown once");
    let receiver = Receiver::start(vec![]);
    let (_, hook_secret) = add_endpoint(&site, &receiver.url, Some(json!(["conversation.escalated"])));

    let email = unique_email("dora");
    let session = customer_session(&site, &email, "attached");
    site.send(&session, "q1", "I want to talk to a person").expect_ok(200);
    let event = check_signed(&receiver.wait_for(1)[0], &hook_secret);
    assert_eq!(event["data"]["connector"]["tier"], "gold", "{event}");
    assert_eq!(traits_of(&site, &email)["account_manager"]["value"], "Priya");
    // The lookup was signed as our webhooks are, and named the customer.
    let asked = connector.asked.lock().unwrap().clone();
    assert_eq!(asked.len(), 1);
    let lookup = check_signed(&asked[0], &secret);
    assert_eq!(lookup["type"], "customer.lookup");
    assert_eq!(lookup["data"]["identities"][0]["value"], email.as_str());

    // Resolved, then escalated again within the cache time: the connector is not asked again.
    edge()
        .json(
            "POST",
            &site.path(&format!(
                "/conversations/{}/resolve",
                crate::support::conversation_of(&site, &session)
            )),
            Some(&site.admin_key),
            &json!({ "propose": false }),
        )
        .expect_ok(200);
    site.send(&session, "q2", "I want to talk to a person again")
        .expect_ok(200);
    let event = check_signed(&receiver.wait_for(2)[1], &hook_secret);
    assert_eq!(event["data"]["connector"]["seats"], 40);
    assert_eq!(connector.asked.lock().unwrap().len(), 1, "answered from the cache");

    // A slow connector is given up on after its timeout: the escalation goes out without it,
    // and the admin API says why.
    connector.delay_ms.store(3_000, Ordering::Relaxed);
    let slow_email = unique_email("dora-slow");
    let slow = customer_session(&site, &slow_email, "attached");
    let started = std::time::Instant::now();
    site.send(&slow, "q1", "I want to talk to a person").expect_ok(200);
    assert!(
        started.elapsed() < std::time::Duration::from_millis(2_500),
        "never held up by the connector"
    );
    let event = check_signed(&receiver.wait_for(3)[2], &hook_secret);
    assert!(event["data"]["connector"].is_null(), "{event}");
    assert!(
        integration_of(&site, "connector")["last_error"]
            .as_str()
            .unwrap()
            .contains("did not answer within 800 ms")
    );

    for (body, field) in [
        (json!({ "url": "http://10.0.0.1/lookup" }), "url"),
        (json!({ "url": connector.url, "timeout_ms": 60_000 }), "timeout_ms"),
        (json!({ "url": connector.url, "cache_secs": -1 }), "cache_secs"),
    ] {
        let reply = edge().json(
            "PUT",
            &site.path("/integrations/connector"),
            Some(&site.admin_key),
            &body,
        );
        reply.expect_error(400, "invalid_field");
        assert_eq!(reply.body["error"]["field"], field);
    }
}
