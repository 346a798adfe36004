//! Stripe as a source of customer context: checking a webhook's `Stripe-Signature`
//! (<https://docs.stripe.com/webhooks#verify-manually>: HMAC-SHA256 of `"{t}.{body}"` with the
//! endpoint's signing secret, hex, scheme `v1`, within a timestamp tolerance), reading the events
//! that change what support should know about a customer (their plan, their subscription's
//! status, a failed payment, what they have paid), and summarising a customer's billing from the
//! REST API's objects (customer, subscriptions, invoices) for the escalation package.

use std::collections::BTreeMap;

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::Sha256;

/// How old (or how far in the future) a signed timestamp may be, in seconds: Stripe's libraries'
/// default. A captured request replayed later than this is refused.
pub const TOLERANCE_SECS: u64 = 300;

/// Why a `Stripe-Signature` was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the Stripe-Signature header is missing")]
    Missing,
    #[error("the Stripe-Signature header has no timestamp `t=` or no `v1=` signature")]
    Malformed,
    #[error("the signed timestamp is {0} s away from now (at most {TOLERANCE_SECS} s): a replayed or delayed request")]
    OutsideTolerance(u64),
    #[error("no v1 signature matches this body signed with the endpoint's signing secret")]
    Mismatch,
}

fn mac(secret: &str, timestamp: u64, body: &[u8]) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// The `Stripe-Signature` header Stripe would send for `body` at `timestamp` (tests, stand-ins).
pub fn sign(secret: &str, timestamp: u64, body: &[u8]) -> String {
    let digest = mac(secret, timestamp, body).finalize().into_bytes();
    format!("t={timestamp},v1={}", crate::hex::encode(&digest))
}

/// Checks `header` for `body` at `now` (seconds): some `v1` signature (there are several while
/// a secret is being rolled) must match, in constant time, and its timestamp be within
/// [`TOLERANCE_SECS`]. Returns the signed timestamp.
pub fn verify(secret: &str, header: Option<&str>, body: &[u8], now: u64) -> Result<u64, SignatureError> {
    let header = header.filter(|h| !h.trim().is_empty()).ok_or(SignatureError::Missing)?;
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", t)) => timestamp = t.parse::<u64>().ok(),
            Some(("v1", v1)) => signatures.extend(crate::hex::decode(v1, 32)),
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or(SignatureError::Malformed)?;
    if signatures.is_empty() {
        return Err(SignatureError::Malformed);
    }
    let age = now.abs_diff(timestamp);
    if age > TOLERANCE_SECS {
        return Err(SignatureError::OutsideTolerance(age));
    }
    let expected = mac(secret, timestamp, body);
    if signatures
        .iter()
        .any(|signature| expected.clone().verify_slice(signature).is_ok())
    {
        Ok(timestamp)
    } else {
        Err(SignatureError::Mismatch)
    }
}

/// What one Stripe event says about a customer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// `evt_…`: Stripe may deliver an event more than once.
    pub id: String,
    /// The event's `type`, e.g. `customer.subscription.updated`.
    pub kind: String,
    /// When it happened (seconds): traits take it as their time, so a late event never
    /// overwrites what a newer one set.
    pub created: u64,
    /// `cus_…`.
    pub customer: String,
    /// The customer's email, when the event's object carries it (customers and invoices do;
    /// subscriptions do not, so it is looked up).
    pub email: Option<String>,
    pub change: Change,
    /// A sign the customer may leave, that staff should hear of now.
    #[serde(default)]
    pub risk: Option<crate::insight::ChurnRisk>,
}

/// How an event changes the customer's traits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Change {
    /// Set these traits.
    Traits(BTreeMap<String, Value>),
    /// An invoice was paid: it counts once towards the lifetime value (by `invoice`), and the
    /// last payment no longer failed.
    Paid {
        invoice: String,
        /// In the currency's smallest unit (cents).
        amount: u64,
        currency: String,
    },
}

/// The events read; others are acknowledged and ignored.
pub const EVENTS: [&str; 8] = [
    "customer.created",
    "customer.updated",
    "customer.subscription.created",
    "customer.subscription.updated",
    "customer.subscription.deleted",
    "invoice.paid",
    "invoice.payment_succeeded",
    "invoice.payment_failed",
];

/// Reads a Stripe event body: `Ok(None)` for events that say nothing support needs.
pub fn parse_event(body: &[u8]) -> Result<Option<Event>, String> {
    let event: Value = serde_json::from_slice(body).map_err(|e| format!("the body is not a Stripe event: {e}"))?;
    let text = |v: &Value, name: &str| v.get(name).and_then(Value::as_str).map(str::to_owned);
    let id = text(&event, "id")
        .filter(|id| id.starts_with("evt_"))
        .ok_or("a Stripe event has an `id` starting with evt_")?;
    let kind = text(&event, "type").ok_or("a Stripe event has a `type`")?;
    let created = event
        .get("created")
        .and_then(Value::as_u64)
        .ok_or("a Stripe event has a `created` time")?;
    let object = event
        .pointer("/data/object")
        .ok_or("a Stripe event has `data.object`")?;
    if !EVENTS.contains(&kind.as_str()) {
        return Ok(None);
    }
    let customer = if kind.starts_with("customer.") && !kind.starts_with("customer.subscription") {
        text(object, "id")
    } else {
        // `customer` is an id, or the whole customer when expanded.
        text(object, "customer").or_else(|| {
            object
                .pointer("/customer/id")
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
    };
    let Some(customer) = customer.filter(|c| c.starts_with("cus_")) else {
        return Ok(None);
    };
    let email = text(object, "email")
        .or_else(|| text(object, "customer_email"))
        .map(|e| e.trim().to_lowercase())
        .filter(|e| e.contains('@'));
    let mut traits = BTreeMap::new();
    traits.insert("stripe_customer_id".to_owned(), Value::String(customer.clone()));
    let risk = churn_risk(&kind, object, &event);
    let change = match kind.as_str() {
        "customer.created" | "customer.updated" => Change::Traits(traits),
        "customer.subscription.created" | "customer.subscription.updated" | "customer.subscription.deleted" => {
            let status = if kind.ends_with("deleted") {
                "canceled".to_owned()
            } else {
                text(object, "status").unwrap_or_else(|| "unknown".into())
            };
            traits.insert("subscription_status".into(), Value::String(status));
            if let Some(plan) = plan_name(object) {
                traits.insert("plan".into(), Value::String(plan));
            }
            Change::Traits(traits)
        }
        "invoice.payment_failed" => {
            traits.insert("last_payment_failed".into(), Value::Bool(true));
            traits.insert("last_payment_failed_at".into(), Value::from(created * 1000));
            Change::Traits(traits)
        }
        _ => Change::Paid {
            invoice: text(object, "id").ok_or("an invoice has an `id`")?,
            amount: object.get("amount_paid").and_then(Value::as_u64).unwrap_or(0),
            currency: text(object, "currency").unwrap_or_else(|| "usd".into()),
        },
    };
    Ok(Some(Event {
        id,
        kind,
        created,
        customer,
        email,
        change,
        risk,
    }))
}

/// What an event says of the customer leaving: a subscription that ended or was set to end, or
/// a failed payment. An update counts only when that is what changed (Stripe lists the changed
/// fields' old values in `data.previous_attributes`), so later edits do not raise it again.
fn churn_risk(kind: &str, subscription: &Value, event: &Value) -> Option<crate::insight::ChurnRisk> {
    use crate::insight::ChurnRisk;
    let changed = |field: &str| event.pointer(&format!("/data/previous_attributes/{field}")).is_some();
    let plan = plan_name(subscription);
    match kind {
        "customer.subscription.deleted" => Some(ChurnRisk::SubscriptionCanceled { plan }),
        "customer.subscription.updated"
            if changed("status") && subscription.get("status").and_then(Value::as_str) == Some("canceled") =>
        {
            Some(ChurnRisk::SubscriptionCanceled { plan })
        }
        "customer.subscription.updated"
            if changed("cancel_at_period_end")
                && subscription.get("cancel_at_period_end").and_then(Value::as_bool) == Some(true) =>
        {
            Some(ChurnRisk::CancelScheduled { plan })
        }
        "invoice.payment_failed" => Some(ChurnRisk::PaymentFailed),
        _ => None,
    }
}

/// A subscription's plan as people say it: the price's nickname, else its lookup key, else
/// the (legacy) plan's nickname, else the price id.
fn plan_name(subscription: &Value) -> Option<String> {
    let price = subscription.pointer("/items/data/0/price");
    let text = |v: Option<&Value>, name: &str| {
        v.and_then(|v| v.get(name))
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    text(price, "nickname")
        .or_else(|| text(price, "lookup_key"))
        .or_else(|| text(subscription.get("plan"), "nickname"))
        .or_else(|| text(price, "id"))
        .or_else(|| text(subscription.get("plan"), "id"))
}

/// An amount in a currency's smallest unit as a number of whole units (2 decimals; Stripe's
/// zero-decimal currencies, such as JPY, are already whole).
pub fn major_units(amount: u64, currency: &str) -> f64 {
    const ZERO_DECIMAL: [&str; 16] = [
        "bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd", "vuv", "xaf", "xof", "xpf",
    ];
    if ZERO_DECIMAL.contains(&currency.to_lowercase().as_str()) {
        amount as f64
    } else {
        amount as f64 / 100.0
    }
}

/// The traits a paid invoice leaves: the customer's lifetime value so far (`paid_total`, the
/// sum of their paid invoices, in `currency`'s smallest unit) and a payment that went through.
pub fn paid_traits(customer: &str, paid_total: u64, currency: &str) -> BTreeMap<String, Value> {
    let mut traits = BTreeMap::new();
    traits.insert("stripe_customer_id".to_owned(), Value::String(customer.to_owned()));
    traits.insert("lifetime_value".into(), Value::from(major_units(paid_total, currency)));
    traits.insert("currency".into(), Value::String(currency.to_lowercase()));
    traits.insert("last_payment_failed".into(), Value::Bool(false));
    traits
}

/// A customer's billing as the escalation package shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct BillingSummary {
    /// `cus_…`.
    pub customer: String,
    pub email: Option<String>,
    pub name: Option<String>,
    /// The newest subscription's plan and status (`active`, `trialing`, `past_due`, `canceled`, …).
    pub plan: Option<String>,
    pub status: Option<String>,
    /// The subscription is set to end at its period's end.
    pub cancel_at_period_end: bool,
    /// Whole units of `currency`: the sum of the paid invoices listed.
    pub paid_total: f64,
    pub currency: Option<String>,
    /// The customer's newest invoices, newest first.
    pub invoices: Vec<InvoiceLine>,
    /// Where staff see the customer in Stripe's dashboard.
    pub dashboard_url: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct InvoiceLine {
    pub id: String,
    pub number: Option<String>,
    /// `paid`, `open`, `uncollectible`, `void`, `draft`.
    pub status: Option<String>,
    /// Whole units of the invoice's currency.
    pub amount_due: f64,
    pub amount_paid: f64,
    pub currency: String,
    /// Seconds since the Unix epoch.
    pub created: u64,
}

/// Summarises a customer from Stripe's REST answers: the customer object, and the `data` lists
/// of `GET /v1/subscriptions?customer=…&status=all` and `GET /v1/invoices?customer=…`.
pub fn summary(customer: &Value, subscriptions: &Value, invoices: &Value) -> Result<BillingSummary, String> {
    let text = |v: &Value, name: &str| v.get(name).and_then(Value::as_str).map(str::to_owned);
    let id = text(customer, "id")
        .filter(|id| id.starts_with("cus_"))
        .ok_or("Stripe's customer has no `id`")?;
    let list = |v: &Value| v.get("data").and_then(Value::as_array).cloned().unwrap_or_default();
    let mut subscriptions = list(subscriptions);
    subscriptions.sort_by_key(|s| std::cmp::Reverse(s.get("created").and_then(Value::as_u64).unwrap_or(0)));
    let newest = subscriptions.first();
    let mut lines: Vec<InvoiceLine> = list(invoices)
        .iter()
        .filter_map(|invoice| {
            let currency = text(invoice, "currency").unwrap_or_else(|| "usd".into());
            let amount = |name: &str| major_units(invoice.get(name).and_then(Value::as_u64).unwrap_or(0), &currency);
            Some(InvoiceLine {
                id: text(invoice, "id")?,
                number: text(invoice, "number"),
                status: text(invoice, "status"),
                amount_due: amount("amount_due"),
                amount_paid: amount("amount_paid"),
                created: invoice.get("created").and_then(Value::as_u64).unwrap_or(0),
                currency,
            })
        })
        .collect();
    lines.sort_by_key(|line| std::cmp::Reverse(line.created));
    let paid_total = lines.iter().map(|line| line.amount_paid).sum::<f64>();
    Ok(BillingSummary {
        dashboard_url: format!("https://dashboard.stripe.com/customers/{id}"),
        customer: id,
        email: text(customer, "email"),
        name: text(customer, "name"),
        plan: newest.and_then(plan_name),
        status: newest.and_then(|s| text(s, "status")),
        cancel_at_period_end: newest
            .and_then(|s| s.get("cancel_at_period_end"))
            .and_then(Value::as_bool)
            .unwrap_or(false),
        paid_total: (paid_total * 100.0).round() / 100.0,
        currency: lines.first().map(|line| line.currency.clone()),
        invoices: lines,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const SECRET: &str = "whsec_test_0123456789abcdef";

    #[test]
    fn a_signature_is_checked_against_the_body_the_secret_and_the_clock() {
        let body = br#"{"id":"evt_1"}"#;
        let header = sign(SECRET, 1_700_000_000, body);
        assert_eq!(verify(SECRET, Some(&header), body, 1_700_000_100), Ok(1_700_000_000));
        // A rolled secret: Stripe sends both signatures; either matches.
        let rolled = format!("{header},v1={}", "ab".repeat(32));
        assert!(verify(SECRET, Some(&rolled), body, 1_700_000_000).is_ok());
        assert_eq!(
            verify(SECRET, Some(&header), b"{}", 1_700_000_000),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify("whsec_other", Some(&header), body, 1_700_000_000),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(SECRET, Some(&header), body, 1_700_000_301),
            Err(SignatureError::OutsideTolerance(301))
        );
        assert_eq!(verify(SECRET, None, body, 0), Err(SignatureError::Missing));
        assert_eq!(verify(SECRET, Some("t=1"), body, 1), Err(SignatureError::Malformed));
        assert_eq!(verify(SECRET, Some("v1=abcd"), body, 1), Err(SignatureError::Malformed));
        // Stripe's published layout: `t=…,v1=…` over `"{t}.{body}"`, hex.
        let expected = {
            let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
            mac.update(b"1700000000.{\"id\":\"evt_1\"}");
            crate::hex::encode(&mac.finalize().into_bytes())
        };
        assert_eq!(header, format!("t=1700000000,v1={expected}"));
    }

    fn event(kind: &str, object: Value) -> Vec<u8> {
        json!({"id": "evt_9", "object": "event", "type": kind, "created": 1_700_000_000,
            "data": {"object": object, "previous_attributes": {}}, "livemode": false})
        .to_string()
        .into_bytes()
    }

    #[test]
    fn a_subscription_change_sets_the_plan_and_status() {
        let body = event(
            "customer.subscription.updated",
            json!({"id": "sub_1", "object": "subscription", "customer": "cus_A", "status": "active",
                "items": {"data": [{"price": {"id": "price_1", "nickname": "Pro", "unit_amount": 4900}}]}}),
        );
        let parsed = parse_event(&body).unwrap().unwrap();
        assert_eq!(parsed.customer, "cus_A");
        assert_eq!(parsed.email, None, "a subscription carries no email: it is looked up");
        let Change::Traits(traits) = parsed.change else {
            panic!()
        };
        assert_eq!(traits["plan"], "Pro");
        assert_eq!(traits["subscription_status"], "active");
        let deleted = event(
            "customer.subscription.deleted",
            json!({"id": "sub_1", "customer": "cus_A", "status": "active", "plan": {"id": "plan_x", "nickname": null}}),
        );
        let Change::Traits(traits) = parse_event(&deleted).unwrap().unwrap().change else {
            panic!()
        };
        assert_eq!(traits["subscription_status"], "canceled");
        assert_eq!(traits["plan"], "plan_x");
    }

    #[test]
    fn a_cancellation_or_failed_payment_is_a_churn_risk_once_when_it_changes() {
        use crate::insight::ChurnRisk;
        let with_previous = |kind: &str, object: Value, previous: Value| {
            json!({"id": "evt_c", "object": "event", "type": kind, "created": 1_700_000_000,
                "data": {"object": object, "previous_attributes": previous}})
            .to_string()
            .into_bytes()
        };
        let sub = |status: &str, at_end: bool| {
            json!({"id": "sub_1", "customer": "cus_A", "status": status, "cancel_at_period_end": at_end,
                "items": {"data": [{"price": {"nickname": "Pro"}}]}})
        };
        let risk = |body: Vec<u8>| parse_event(&body).unwrap().unwrap().risk;
        assert_eq!(
            risk(with_previous(
                "customer.subscription.updated",
                sub("active", true),
                json!({"cancel_at_period_end": false})
            )),
            Some(ChurnRisk::CancelScheduled {
                plan: Some("Pro".into())
            })
        );
        assert_eq!(
            risk(with_previous(
                "customer.subscription.updated",
                sub("canceled", false),
                json!({"status": "active"})
            )),
            Some(ChurnRisk::SubscriptionCanceled {
                plan: Some("Pro".into())
            })
        );
        assert_eq!(
            risk(event("customer.subscription.deleted", sub("canceled", false))),
            Some(ChurnRisk::SubscriptionCanceled {
                plan: Some("Pro".into())
            })
        );
        // Already set to end, and something else changed: no new risk.
        assert_eq!(
            risk(with_previous(
                "customer.subscription.updated",
                sub("active", true),
                json!({"metadata": {}})
            )),
            None
        );
        assert_eq!(risk(event("customer.subscription.updated", sub("active", false))), None);
        let failed = json!({"id": "in_1", "customer": "cus_A", "amount_due": 4900});
        assert_eq!(
            risk(event("invoice.payment_failed", failed)),
            Some(ChurnRisk::PaymentFailed)
        );
    }

    #[test]
    fn invoices_tell_payments_and_other_events_are_ignored() {
        let failed = event(
            "invoice.payment_failed",
            json!({"id": "in_1", "customer": "cus_A", "customer_email": "Ana@Example.com", "amount_due": 4900}),
        );
        let parsed = parse_event(&failed).unwrap().unwrap();
        assert_eq!(parsed.email.as_deref(), Some("ana@example.com"));
        let Change::Traits(traits) = parsed.change else {
            panic!()
        };
        assert_eq!(traits["last_payment_failed"], true);
        let paid = event(
            "invoice.paid",
            json!({"id": "in_2", "customer": "cus_A", "amount_paid": 4900, "currency": "eur"}),
        );
        assert_eq!(
            parse_event(&paid).unwrap().unwrap().change,
            Change::Paid {
                invoice: "in_2".into(),
                amount: 4900,
                currency: "eur".into()
            }
        );
        let traits = paid_traits("cus_A", 14_700, "EUR");
        assert_eq!(traits["lifetime_value"], 147.0);
        assert_eq!(traits["last_payment_failed"], false);
        assert_eq!(major_units(500, "jpy"), 500.0);
        assert_eq!(
            parse_event(&event("charge.refunded", json!({"customer": "cus_A"}))).unwrap(),
            None
        );
        assert!(parse_event(b"not json").is_err());
        assert!(parse_event(br#"{"id":"x","type":"invoice.paid","created":1,"data":{"object":{}}}"#).is_err());
    }

    #[test]
    fn a_billing_summary_shows_the_newest_subscription_and_invoices() {
        let customer = json!({"id": "cus_A", "email": "ana@example.com", "name": "Ana"});
        let subscriptions = json!({"object": "list", "data": [
            {"id": "sub_old", "created": 1, "status": "canceled", "items": {"data": [{"price": {"nickname": "Basic"}}]}},
            {"id": "sub_new", "created": 2, "status": "active", "cancel_at_period_end": true,
             "items": {"data": [{"price": {"nickname": "Pro"}}]}}
        ]});
        let invoices = json!({"object": "list", "data": [
            {"id": "in_1", "number": "A-1", "status": "paid", "amount_due": 4900, "amount_paid": 4900, "currency": "usd", "created": 10},
            {"id": "in_2", "number": "A-2", "status": "open", "amount_due": 4900, "amount_paid": 0, "currency": "usd", "created": 20}
        ]});
        let summary = summary(&customer, &subscriptions, &invoices).unwrap();
        assert_eq!(summary.plan.as_deref(), Some("Pro"));
        assert_eq!(summary.status.as_deref(), Some("active"));
        assert!(summary.cancel_at_period_end);
        assert_eq!(summary.paid_total, 49.0);
        assert_eq!(summary.invoices[0].id, "in_2", "newest first");
        assert_eq!(summary.dashboard_url, "https://dashboard.stripe.com/customers/cus_A");
        assert!(super::summary(&json!({}), &json!({}), &json!({})).is_err());
    }
}
