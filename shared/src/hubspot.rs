//! HubSpot as the CRM (<https://developers.hubspot.com/docs/api/crm/contacts>): finding a
//! customer's contact by email (the CRM search API), turning its properties into profile traits,
//! and writing a resolved conversation back as a note associated with the contact, so the
//! support record and the CRM never disagree.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::message::escape_markup as escape;
use crate::wire::Channel;

/// Contact properties read when a site names none.
pub const DEFAULT_PROPERTIES: [&str; 5] = ["firstname", "lastname", "company", "jobtitle", "lifecyclestage"];

/// Most properties a site may ask for.
pub const MAX_PROPERTIES: usize = 20;

/// HubSpot's association type from a note to a contact (`HUBSPOT_DEFINED`).
pub const NOTE_TO_CONTACT: u32 = 202;

/// Whether `name` is a HubSpot property's internal name.
pub fn valid_property(name: &str) -> bool {
    (1..=100).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// The body of `POST /crm/v3/objects/contacts/search` for the contact with `email`.
pub fn search_body(email: &str, properties: &[String]) -> Value {
    let mut wanted: Vec<&str> = vec!["email"];
    wanted.extend(properties.iter().map(String::as_str));
    json!({
        "filterGroups": [{"filters": [{"propertyName": "email", "operator": "EQ", "value": email}]}],
        "properties": wanted,
        "limit": 1,
    })
}

/// A contact in the CRM, as the escalation package shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct Contact {
    pub id: String,
    /// The properties read that have a value.
    pub properties: BTreeMap<String, String>,
}

/// The contact a search found, if any.
pub fn contact(search: &Value) -> Result<Option<Contact>, String> {
    let results = search
        .get("results")
        .and_then(Value::as_array)
        .ok_or("HubSpot's search answer has no `results`")?;
    let Some(found) = results.first() else {
        return Ok(None);
    };
    let id = found
        .get("id")
        .and_then(Value::as_str)
        .ok_or("a HubSpot contact has no `id`")?
        .to_owned();
    let properties = found
        .get("properties")
        .and_then(Value::as_object)
        .map(|props| {
            props
                .iter()
                .filter_map(|(k, v)| v.as_str().filter(|v| !v.is_empty()).map(|v| (k.clone(), v.to_owned())))
                .filter(|(k, _)| !k.starts_with("hs_object_id") && k != "createdate" && k != "lastmodifieddate")
                .collect()
        })
        .unwrap_or_default();
    Ok(Some(Contact { id, properties }))
}

/// The profile traits a contact gives: `crm_contact_id` and `crm_<property>` for each property
/// read (the email is an identity already, not a trait).
pub fn traits(contact: &Contact) -> BTreeMap<String, Value> {
    let mut traits = BTreeMap::new();
    traits.insert("crm_contact_id".to_owned(), Value::String(contact.id.clone()));
    for (name, value) in &contact.properties {
        if name != "email" {
            traits.insert(format!("crm_{name}"), Value::String(value.clone()));
        }
    }
    traits
}

/// What a resolved conversation was, for the CRM.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct Resolved {
    /// What the customer asked, in their words.
    pub question: Option<String>,
    /// The last staff reply.
    pub reply: Option<String>,
    /// The channels the customer used, in the order first used.
    pub channels: Vec<Channel>,
    /// Why it went to a person, if it did (`visitor_asked`, `urgent`, …).
    pub reasons: Vec<String>,
    /// The team that resolved it.
    pub team: Option<String>,
    pub messages: usize,
    /// When it was resolved (ms).
    pub resolved_at: u64,
    /// A signed link to the whole transcript.
    pub transcript_url: Option<String>,
}

/// The note's body: HubSpot shows it as HTML, so every text is escaped; at most 2,000
/// characters of each quoted text.
pub fn note_text(site_name: &str, resolved: &Resolved) -> String {
    let clip = |text: &str| escape(&crate::message::clip(text, 2001));
    let channels: Vec<&str> = resolved.channels.iter().map(|c| c.as_str()).collect();
    let mut html = format!(
        "<p><strong>Support conversation resolved</strong> ({})</p>",
        escape(site_name)
    );
    if let Some(question) = &resolved.question {
        html.push_str(&format!("<p><strong>Customer asked:</strong> {}</p>", clip(question)));
    }
    if let Some(reply) = &resolved.reply {
        html.push_str(&format!("<p><strong>Resolution:</strong> {}</p>", clip(reply)));
    }
    let outcome = match (&resolved.team, resolved.reasons.is_empty()) {
        (Some(team), false) => format!(
            "resolved by {} after escalation ({})",
            escape(team),
            escape(&resolved.reasons.join(", "))
        ),
        (Some(team), true) => format!("resolved by {}", escape(team)),
        (None, false) => format!(
            "resolved by staff after escalation ({})",
            escape(&resolved.reasons.join(", "))
        ),
        (None, true) => "resolved by staff".to_owned(),
    };
    html.push_str(&format!(
        "<p><strong>Channels:</strong> {} · <strong>Messages:</strong> {} · <strong>Outcome:</strong> {outcome}</p>",
        escape(&channels.join(", ")),
        resolved.messages
    ));
    if let Some(url) = &resolved.transcript_url {
        html.push_str(&format!("<p><a href=\"{}\">The whole transcript</a></p>", escape(url)));
    }
    html
}

/// The body of `POST /crm/v3/objects/notes`: the note, associated with the contact.
pub fn note_body(contact_id: &str, text: &str, at_ms: u64) -> Value {
    json!({
        "properties": {"hs_timestamp": at_ms.to_string(), "hs_note_body": text},
        "associations": [{
            "to": {"id": contact_id},
            "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": NOTE_TO_CONTACT}],
        }],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_contact_found_by_email_becomes_traits() {
        let body = search_body("ana@example.com", &["lifecyclestage".to_owned()]);
        assert_eq!(body["filterGroups"][0]["filters"][0]["value"], "ana@example.com");
        assert_eq!(body["properties"], json!(["email", "lifecyclestage"]));
        let answer = json!({"total": 1, "results": [{"id": "501", "properties": {
            "email": "ana@example.com", "lifecyclestage": "customer", "company": "", "hs_object_id": "501",
            "createdate": "2024-01-01T00:00:00Z"}, "archived": false}]});
        let found = contact(&answer).unwrap().unwrap();
        assert_eq!(found.id, "501");
        let traits = traits(&found);
        assert_eq!(traits["crm_contact_id"], "501");
        assert_eq!(traits["crm_lifecyclestage"], "customer");
        assert!(
            !traits.contains_key("crm_company") && !traits.contains_key("crm_email"),
            "{traits:?}"
        );
        assert_eq!(contact(&json!({"total": 0, "results": []})).unwrap(), None);
        assert!(contact(&json!({"status": "error"})).is_err());
        assert!(valid_property("hs_lead_status") && !valid_property("Bad Name"));
    }

    #[test]
    fn a_resolved_conversation_is_a_note_with_everything_escaped() {
        let resolved = Resolved {
            question: Some("Why was I charged <twice>?".into()),
            reply: Some("Refunded the second charge & sorry!".into()),
            channels: vec![Channel::Chat, Channel::Email, Channel::Phone],
            reasons: vec!["visitor_asked".into()],
            team: Some("billing".into()),
            messages: 9,
            resolved_at: 1_700_000_000_000,
            transcript_url: Some("https://edge.test/t?a=1&b=2".into()),
        };
        let text = note_text("Acme <Inc>", &resolved);
        assert!(text.contains("Why was I charged &lt;twice&gt;?"), "{text}");
        assert!(text.contains("Refunded the second charge &amp; sorry!"));
        assert!(text.contains("chat, email, phone"));
        assert!(text.contains("resolved by billing after escalation (visitor_asked)"));
        assert!(text.contains("href=\"https://edge.test/t?a=1&amp;b=2\""));
        assert!(!text.contains("<twice>") && !text.contains("<Inc>"));
        let body = note_body("501", &text, 1_700_000_000_000);
        assert_eq!(body["properties"]["hs_timestamp"], "1700000000000");
        assert_eq!(body["associations"][0]["to"]["id"], "501");
        assert_eq!(body["associations"][0]["types"][0]["associationTypeId"], 202);
    }
}
