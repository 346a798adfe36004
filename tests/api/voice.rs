//! Phone calls through Twilio Voice. The tests play Twilio: they post a call's webhooks as
//! Twilio does (its form fields, `X-Twilio-Signature` over the full URL and the sorted
//! parameters), read the TwiML we answer as Twilio would (well-formed XML, known verbs, actions
//! it can follow) and follow its actions: greeting, questions answered aloud, "text me", the
//! transfer to a person with `call.incoming`, voicemail and its transcription, the call's end.
//! Then the seed's story: chat at 2 PM, email at 3 PM, a call at 5 PM from the verified number.

use serde_json::{Value, json};

use crate::email::{deliver, raw_email, site_address};
use crate::identity::{identify_ok, new_secret, now, profiles, unique_email};
use crate::sms::{form_encode, unique_number, wait_for_sms};
use crate::support::{Reply, Site, edge, site_with_articles};
use crate::webhooks::{Receiver, add_endpoint, check_signed};

const TOKEN: &str = "9f8e7d6c5b4a39281706f5e4d3c2b1a0";
const ACCOUNT: &str = "AC0123456789abcdef0123456789abcdef";
const LINE: &str = "+14155550142";
const SUPPORT: &str = "+14155550177";
const SMS_NUMBER: &str = "+14155550199";

fn set_up(site: &Site, settings: Value) -> Value {
    let mut body = json!({ "account_sid": ACCOUNT, "auth_token": TOKEN, "number": LINE });
    for (key, value) in settings.as_object().unwrap() {
        body[key] = value.clone();
    }
    let reply = edge().json("PUT", &site.path("/channels/voice"), Some(&site.admin_key), &body);
    let info = reply.expect_ok(200).clone();
    assert!(
        info.to_string().find(TOKEN).is_none(),
        "the token is never echoed: {info}"
    );
    info
}

fn set_up_sms(site: &Site) {
    let body = json!({ "account_sid": ACCOUNT, "auth_token": TOKEN, "from": SMS_NUMBER });
    edge()
        .json("PUT", &site.path("/channels/sms"), Some(&site.admin_key), &body)
        .expect_ok(200);
}

/// The path and query of an absolute URL on the edge.
fn path_of(url: &str) -> &str {
    let rest = url.split_once("://").unwrap().1;
    &rest[rest.find('/').unwrap()..]
}

/// Posts `params` to `url` as Twilio does, signed with `token`.
fn post_signed(url: &str, token: &str, params: &[(String, String)]) -> Reply {
    let signature = shared::sms::signature(token, url, params);
    let body: String = params
        .iter()
        .map(|(k, v)| format!("{k}={}", form_encode(v)))
        .collect::<Vec<_>>()
        .join("&");
    edge().request(
        "POST",
        path_of(url),
        &[
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("X-Twilio-Signature", &signature),
        ],
        Some(body.as_bytes()),
    )
}

/// One TwiML verb as Twilio reads it.
#[derive(Debug, Clone)]
struct Verb {
    name: String,
    attributes: Vec<(String, String)>,
    /// Its text, or the text of the `<Say>` (or `<Number>`) inside it.
    text: String,
}

impl Verb {
    fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

/// A TwiML answer, read and checked as Twilio would: `<Response>` of the verbs we use, each
/// with what Twilio needs to carry it out.
#[derive(Debug)]
struct Twiml {
    verbs: Vec<Verb>,
    xml: String,
}

impl Twiml {
    fn read(reply: &Reply) -> Twiml {
        assert_eq!(reply.status, 200, "{}", reply.body);
        assert!(
            reply.header("content-type").unwrap_or_default().starts_with("text/xml"),
            "TwiML is XML: {:?}",
            reply.header("content-type")
        );
        Twiml::parse(&reply.text)
    }

    fn parse(xml: &str) -> Twiml {
        let document = roxmltree::Document::parse(xml).unwrap_or_else(|e| panic!("not XML ({e}): {xml}"));
        let root = document.root_element();
        assert_eq!(root.tag_name().name(), "Response", "{xml}");
        let mut verbs = Vec::new();
        for node in root.children().filter(|n| n.is_element()) {
            let name = node.tag_name().name().to_owned();
            let inner: Vec<roxmltree::Node> = node.children().filter(|n| n.is_element()).collect();
            let text = match name.as_str() {
                "Say" => node.text().unwrap_or_default().to_owned(),
                "Gather" | "Dial" => inner.iter().filter_map(|n| n.text()).collect::<Vec<_>>().join(" "),
                "Record" | "Hangup" => String::new(),
                other => panic!("a verb this product does not answer with: {other} in {xml}"),
            };
            let verb = Verb {
                name,
                attributes: node
                    .attributes()
                    .map(|a| (a.name().to_owned(), a.value().to_owned()))
                    .collect(),
                text,
            };
            match verb.name.as_str() {
                "Say" => assert!(!verb.text.trim().is_empty(), "an empty <Say>: {xml}"),
                "Gather" => {
                    let input = verb.attribute("input").unwrap();
                    assert!(input.split(' ').all(|i| i == "speech" || i == "dtmf"), "{xml}");
                    assert!(verb.attribute("action").unwrap().starts_with(&edge().base), "{xml}");
                    assert!(inner.iter().all(|n| n.tag_name().name() == "Say"), "{xml}");
                }
                "Dial" => {
                    assert!(verb.attribute("action").unwrap().starts_with(&edge().base), "{xml}");
                    assert_eq!(inner.len(), 1);
                    assert_eq!(inner[0].tag_name().name(), "Number");
                    assert!(verb.text.starts_with('+'), "E.164: {xml}");
                }
                "Record" => {
                    assert!(verb.attribute("action").unwrap().starts_with(&edge().base), "{xml}");
                    let max: u32 = verb.attribute("maxLength").unwrap().parse().unwrap();
                    assert!((1..=14_400).contains(&max));
                }
                _ => {}
            }
            verbs.push(verb);
        }
        Twiml {
            verbs,
            xml: xml.to_owned(),
        }
    }

    /// Everything read aloud, prompts included.
    fn said(&self) -> String {
        self.verbs
            .iter()
            .filter(|v| matches!(v.name.as_str(), "Say" | "Gather"))
            .map(|v| v.text.as_str())
            .collect::<Vec<_>>()
            .join(" ")
    }

    fn first(&self, name: &str) -> Option<&Verb> {
        self.verbs.iter().find(|v| v.name == name)
    }

    fn gather_action(&self) -> String {
        self.first("Gather")
            .unwrap_or_else(|| panic!("no <Gather>: {}", self.xml))
            .attribute("action")
            .unwrap()
            .to_owned()
    }

    fn hangs_up(&self) -> bool {
        self.verbs.last().is_some_and(|v| v.name == "Hangup")
    }
}

/// One call, played as Twilio plays it.
struct Call {
    sid: String,
    from: Option<String>,
    webhook: String,
}

impl Call {
    fn new(site: &Site, from: Option<&str>) -> Call {
        use std::sync::atomic::{AtomicU64, Ordering};
        static N: AtomicU64 = AtomicU64::new(0);
        let n = (std::process::id() as u64) << 20 | N.fetch_add(1, Ordering::Relaxed);
        Call {
            sid: format!("CA{:032x}", n as u128 * 0x9e37_79b9_7f4a_7c15),
            from: from.map(str::to_owned),
            webhook: format!("{}{}", edge().base, site.path("/inbound/voice/twilio")),
        }
    }

    /// The parameters Twilio sends with every request about this call.
    fn params(&self, status: &str, extra: &[(&str, &str)]) -> Vec<(String, String)> {
        let from = self.from.clone().unwrap_or_else(|| "anonymous".to_owned());
        let mut params: Vec<(String, String)> = [
            ("AccountSid", ACCOUNT),
            ("ApiVersion", "2010-04-01"),
            ("CallSid", self.sid.as_str()),
            ("CallStatus", status),
            ("Called", LINE),
            ("Caller", from.as_str()),
            ("Direction", "inbound"),
            ("From", from.as_str()),
            ("To", LINE),
            ("ToCountry", "US"),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
        params.extend(extra.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
        params
    }

    fn post(&self, url: &str, status: &str, extra: &[(&str, &str)]) -> Reply {
        post_signed(url, TOKEN, &self.params(status, extra))
    }

    fn ring(&self) -> Twiml {
        Twiml::read(&self.post(&self.webhook, "ringing", &[]))
    }

    /// Says `speech` at the `<Gather>` of `twiml`.
    fn say(&self, twiml: &Twiml, speech: &str) -> Twiml {
        let reply = self.post(
            &twiml.gather_action(),
            "in-progress",
            &[("SpeechResult", speech), ("Confidence", "0.92")],
        );
        Twiml::read(&reply)
    }

    fn press(&self, twiml: &Twiml, digits: &str) -> Twiml {
        Twiml::read(&self.post(&twiml.gather_action(), "in-progress", &[("Digits", digits)]))
    }

    /// The `<Dial>` of `twiml` ended with `dial_status`.
    fn dial_ended(&self, twiml: &Twiml, dial_status: &str, extra: &[(&str, &str)]) -> Twiml {
        let action = twiml
            .first("Dial")
            .expect("a <Dial>")
            .attribute("action")
            .unwrap()
            .to_owned();
        let mut params = vec![("DialCallStatus", dial_status)];
        params.extend_from_slice(extra);
        Twiml::read(&self.post(&action, "in-progress", &params))
    }

    /// The caller hangs up; Twilio posts the final status to the number's status callback.
    fn end(&self, duration_secs: u64) {
        let duration = duration_secs.to_string();
        let reply = self.post(
            &format!("{}/status", self.webhook),
            "completed",
            &[("CallDuration", &duration)],
        );
        assert_eq!(reply.status, 200, "{}", reply.body);
    }
}

/// The conversation as staff see it.
fn staff_view(site: &Site, conversation: &str) -> Value {
    let auth = format!("Bearer {}", site.admin_key);
    let reply = edge().request(
        "GET",
        &site.path(&format!("/conversations/{conversation}")),
        &[("Authorization", &auth)],
        None,
    );
    reply.expect_ok(200).clone()
}

/// The call's notes in a conversation's messages: (event, the whole note).
fn call_notes(messages: &[Value]) -> Vec<(String, Value)> {
    messages
        .iter()
        .filter(|m| m["bot"]["kind"] == "call")
        .map(|m| (m["bot"]["event"].as_str().unwrap().to_owned(), m["bot"].clone()))
        .collect()
}

/// The conversation of whoever holds `identity` (e.g. `phone:+1…`): their profile's active
/// one (a merged profile also lists the conversations that joined it).
fn conversation_of_identity(site: &Site, identity: &str) -> String {
    let found = profiles(site, &identity.replace('+', "%2B"));
    assert_eq!(found.len(), 1, "one person: {found:?}");
    found[0]["conversations"][0].as_str().unwrap().to_owned()
}

#[test]
fn the_voice_bot_answers_aloud_texts_the_article_and_keeps_the_call_in_the_timeline() {
    let site = site_with_articles();
    let info = set_up(&site, json!({ "support_number": SUPPORT }));
    assert_eq!(info["record_calls"], true, "{info}");
    assert_eq!(info["language"], "en-US");
    assert!(
        info["status_callback_url"]
            .as_str()
            .unwrap()
            .ends_with("/inbound/voice/twilio/status")
    );
    set_up_sms(&site);
    let caller = unique_number();
    let call = Call::new(&site, Some(&caller));

    let greeting = call.ring();
    assert!(greeting.said().contains("reached"), "{}", greeting.xml);
    assert!(greeting.gather_action().ends_with("/gather?turn=1"));
    let gather = greeting.first("Gather").unwrap();
    assert_eq!(gather.attribute("input"), Some("speech dtmf"));
    assert_eq!(gather.attribute("language"), Some("en-US"));
    assert!(greeting.hangs_up(), "silence ends politely: {}", greeting.xml);

    // A routine question: the article read aloud, short, without its address.
    let answer = call.say(&greeting, "How do I reset my password?");
    let said = answer.said();
    assert!(said.contains("Forgot password"), "{}", answer.xml);
    assert!(!said.contains("http") && !said.contains("help.example.com"), "{said}");
    assert!(said.contains("text me"), "{said}");
    assert!(answer.gather_action().ends_with("/gather?turn=2"));
    // Twilio may post the same request again: the question is stored and answered once.
    let again = call.say(&greeting, "How do I reset my password?");
    assert_eq!(again.said(), said);

    // "Text me": the full article, with its link, by SMS to the caller.
    let texted = call.say(&answer, "Can you text me that?");
    assert!(texted.said().contains("sent it to your phone"), "{}", texted.xml);
    let sms = wait_for_sms(&caller, 1);
    assert_eq!(sms.len(), 1);
    assert_eq!(sms[0]["from"], SMS_NUMBER);
    let body = sms[0]["body"].as_str().unwrap();
    assert!(
        body.contains("Forgot password") && body.contains("https://help.example.com/reset"),
        "{body}"
    );

    let bye = call.say(&texted, "No, that's all, thanks.");
    assert!(bye.said().contains("Goodbye") && bye.hangs_up(), "{}", bye.xml);
    assert!(bye.first("Gather").is_none());
    call.end(95);
    call.end(95);

    // The timeline: started, the words as recognised, the spoken answer, the text, the end.
    let conversation = conversation_of_identity(&site, &format!("phone:{caller}"));
    let view = staff_view(&site, &conversation);
    let messages = view["messages"].as_array().unwrap();
    let visitor: Vec<&str> = messages
        .iter()
        .filter(|m| m["role"] == "visitor")
        .map(|m| m["text"].as_str().unwrap())
        .collect();
    assert_eq!(visitor, ["How do I reset my password?"], "{messages:?}");
    let question = messages.iter().find(|m| m["role"] == "visitor").unwrap();
    assert_eq!(question["channel"], "phone");
    let spoken = messages.iter().find(|m| m["bot"]["kind"] == "answer").unwrap();
    assert_eq!(spoken["channel"], "phone");
    assert_eq!(spoken["bot"]["article"]["id"], "reset-password");
    assert!(messages.iter().any(|m| m["channel"] == "sms" && m["role"] == "bot"));
    let notes = call_notes(messages);
    let events: Vec<&str> = notes.iter().map(|(e, _)| e.as_str()).collect();
    assert_eq!(events, ["started", "ended"], "each once: {messages:?}");
    assert_eq!(notes[0].1["from"], caller.as_str());
    assert_eq!(notes[0].1["verified"], false, "caller ID alone proves nothing");
    assert_eq!(notes[1].1["duration_secs"], 95);
    assert_eq!(notes[1].1["outcome"], "bot");
    assert_eq!(view["status"], "bot", "nobody was needed");
}

#[test]
fn bad_call_requests_are_refused_and_unknown_lines_hear_a_polite_message() {
    let site = site_with_articles();
    let caller = unique_number();
    let call = Call::new(&site, Some(&caller));

    // No phone line set up here (and no site at all): a polite message, never an error tone.
    for twiml in [
        call.ring(),
        Twiml::read(&post_signed(
            &format!("{}/v1/sites/no-such-site-00/inbound/voice/twilio", edge().base),
            TOKEN,
            &call.params("ringing", &[]),
        )),
    ] {
        assert!(twiml.said().contains("not taking calls"), "{}", twiml.xml);
        assert!(twiml.hangs_up());
    }

    set_up(&site, json!({ "support_number": SUPPORT, "language": "en-GB" }));
    // Unsigned, signed with another token, or signed for another URL: refused, nothing kept.
    let params = call.params("ringing", &[]);
    let body: String = params
        .iter()
        .map(|(k, v)| format!("{k}={}", form_encode(v)))
        .collect::<Vec<_>>()
        .join("&");
    let unsigned = edge().request(
        "POST",
        path_of(&call.webhook),
        &[("Content-Type", "application/x-www-form-urlencoded")],
        Some(body.as_bytes()),
    );
    unsigned.expect_error(401, "invalid_signature");
    post_signed(&call.webhook, "ffffffffffffffffffffffffffffffff", &params).expect_error(401, "invalid_signature");
    let other_url = format!("{}/gather?turn=1", call.webhook);
    let signature = shared::sms::signature(TOKEN, &other_url, &params);
    let replayed = edge().request(
        "POST",
        path_of(&call.webhook),
        &[
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("X-Twilio-Signature", &signature),
        ],
        Some(body.as_bytes()),
    );
    replayed.expect_error(401, "invalid_signature");
    assert!(
        profiles(&site, &format!("phone:{}", caller.replace('+', "%2B"))).is_empty(),
        "nothing was kept"
    );

    // Signed but wrong: the field is named.
    let mut bad = params.clone();
    bad.retain(|(k, _)| k != "CallSid");
    bad.push(("CallSid".into(), "CA123".into()));
    let reply = post_signed(&call.webhook, TOKEN, &bad);
    reply.expect_error(400, "invalid_field");
    assert_eq!(reply.body["error"]["field"], "CallSid");
    let reply = post_signed(&format!("{}/gather", call.webhook), TOKEN, &params);
    reply.expect_error(400, "invalid_field");
    assert_eq!(reply.body["error"]["field"], "turn");
    let json_body = edge().json("POST", path_of(&call.webhook), None, &json!({ "CallSid": call.sid }));
    json_body.expect_error(415, "unsupported_media_type");

    // Another number pointed at this site's webhook: polite, nothing kept.
    let mut elsewhere = params.clone();
    for (k, v) in &mut elsewhere {
        if k == "To" || k == "Called" {
            *v = "+14155550000".into();
        }
    }
    let twiml = Twiml::read(&post_signed(&call.webhook, TOKEN, &elsewhere));
    assert!(twiml.said().contains("not taking calls"), "{}", twiml.xml);
    assert!(profiles(&site, &format!("phone:{}", caller.replace('+', "%2B"))).is_empty());

    // A request about a call we never heard of ends it politely.
    let twiml = Twiml::read(&call.post(
        &format!("{}/gather?turn=1", call.webhook),
        "in-progress",
        &[("SpeechResult", "hello")],
    ));
    assert!(twiml.hangs_up() && twiml.said().contains("Goodbye"), "{}", twiml.xml);

    // Bad settings are refused with the field.
    for (body, field) in [
        (json!({ "account_sid": ACCOUNT, "auth_token": TOKEN }), "number"),
        (
            json!({ "account_sid": ACCOUNT, "auth_token": "short", "number": LINE }),
            "auth_token",
        ),
        (
            json!({ "account_sid": ACCOUNT, "auth_token": TOKEN, "number": LINE, "support_number": LINE }),
            "support_number",
        ),
        (
            json!({ "account_sid": ACCOUNT, "auth_token": TOKEN, "number": LINE, "record_calls": "no" }),
            "record_calls",
        ),
        (
            json!({ "account_sid": ACCOUNT, "auth_token": TOKEN, "number": LINE, "language": "english\"/>" }),
            "language",
        ),
    ] {
        let reply = edge().json("PUT", &site.path("/channels/voice"), Some(&site.admin_key), &body);
        reply.expect_error(400, "invalid_field");
        assert_eq!(reply.body["error"]["field"], field, "{body}");
    }
}

#[test]
fn nobody_free_means_voicemail_whose_transcription_becomes_a_message_and_recording_can_be_off() {
    let site = site_with_articles();
    set_up(&site, json!({ "support_number": SUPPORT }));
    let receiver = Receiver::start(vec![]);
    let (_, secret) = add_endpoint(&site, &receiver.url, Some(json!(["call.incoming"])));
    let caller = unique_number();
    let call = Call::new(&site, Some(&caller));
    let greeting = call.ring();
    // 0 on the keypad: a person.
    let transfer = call.press(&greeting, "0");
    let dial = transfer.first("Dial").unwrap_or_else(|| panic!("{}", transfer.xml));
    assert_eq!(dial.text, SUPPORT);
    assert_eq!(dial.attribute("record"), Some("record-from-answer-dual"));
    let event = check_signed(&receiver.wait_for(1)[0], &secret);
    assert_eq!(event["type"], "call.incoming");
    assert_eq!(event["data"]["call"]["from"], caller.as_str());
    assert_eq!(event["data"]["call"]["to"], SUPPORT);
    assert_eq!(event["data"]["escalation"]["reasons"][0], "visitor_asked");

    // Nobody answers: voicemail, then Twilio's transcription, which can come after the call.
    let voicemail = call.dial_ended(&transfer, "no-answer", &[]);
    let record = voicemail.first("Record").unwrap_or_else(|| panic!("{}", voicemail.xml));
    let recorded_url = record.attribute("action").unwrap().to_owned();
    let transcription_url = record.attribute("transcribeCallback").unwrap().to_owned();
    let recording = "https://api.twilio.com/2010-04-01/Accounts/AC0123456789abcdef0123456789abcdef/Recordings/RE0123456789abcdef0123456789abcdef";
    let thanks = Twiml::read(&call.post(
        &recorded_url,
        "in-progress",
        &[("RecordingUrl", recording), ("RecordingDuration", "14")],
    ));
    assert!(
        thanks.said().contains("get back to you") && thanks.hangs_up(),
        "{}",
        thanks.xml
    );
    call.end(61);
    let reply = call.post(
        &transcription_url,
        "completed",
        &[
            ("RecordingUrl", recording),
            ("TranscriptionStatus", "completed"),
            ("TranscriptionText", "Hi, it's about my refund, please call me back."),
        ],
    );
    assert_eq!(reply.status, 200);

    let conversation = conversation_of_identity(&site, &format!("phone:{caller}"));
    let view = staff_view(&site, &conversation);
    assert_eq!(view["status"], "waiting_for_human");
    let messages = view["messages"].as_array().unwrap();
    let voicemail_text = messages
        .iter()
        .find(|m| m["role"] == "visitor")
        .unwrap_or_else(|| panic!("{messages:?}"));
    assert!(voicemail_text["text"].as_str().unwrap().contains("about my refund"));
    let notes = call_notes(messages);
    let events: Vec<&str> = notes.iter().map(|(e, _)| e.as_str()).collect();
    assert_eq!(events, ["started", "transferred", "voicemail", "ended"], "{messages:?}");
    assert_eq!(notes[2].1["recording_url"], recording, "referenced, not copied");
    assert_eq!(notes[3].1["outcome"], "voicemail");
    assert_eq!(notes[3].1["duration_secs"], 61);

    // With recording off: no recorded transfer, no voicemail, and a recording is never kept.
    set_up(&site, json!({ "support_number": SUPPORT, "record_calls": false }));
    let other = unique_number();
    let call = Call::new(&site, Some(&other));
    let transfer = call.press(&call.ring(), "0");
    assert_eq!(
        transfer.first("Dial").unwrap().attribute("record"),
        None,
        "{}",
        transfer.xml
    );
    let after = call.dial_ended(&transfer, "busy", &[("RecordingUrl", recording)]);
    assert!(after.first("Record").is_none() && after.hangs_up(), "{}", after.xml);
    assert!(after.said().contains("we will get back to you"));
    call.end(20);
    let conversation = conversation_of_identity(&site, &format!("phone:{other}"));
    let text = staff_view(&site, &conversation).to_string();
    assert!(!text.contains("RE0123456789abcdef"), "no recording kept: {text}");
    assert!(text.contains("\"outcome\":\"missed\""), "{text}");
}

#[test]
fn a_withheld_number_gets_a_conversation_of_its_own_and_no_text() {
    let site = site_with_articles();
    set_up(&site, json!({}));
    set_up_sms(&site);
    let call = Call::new(&site, None);
    let greeting = call.ring();
    let answer = call.say(&greeting, "can I get a refund");
    assert!(answer.said().contains("Refunds go back"), "{}", answer.xml);
    assert!(!answer.said().contains("text me"), "nothing to text: {}", answer.xml);
    let texted = call.press(&answer, "1");
    assert!(texted.said().contains("cannot send a text"), "{}", texted.xml);
    // No support number: asking for a person leads to voicemail.
    let person = call.say(&texted, "agent");
    assert!(
        person.first("Record").is_some() && person.first("Dial").is_none(),
        "{}",
        person.xml
    );
}

#[test]
fn the_five_pm_call_from_the_verified_number_arrives_with_the_whole_story() {
    let site = site_with_articles();
    set_up(&site, json!({ "support_number": SUPPORT }));
    let receiver = Receiver::start(vec![]);
    let (_, secret) = add_endpoint(
        &site,
        &receiver.url,
        Some(json!(["call.incoming", "conversation.escalated"])),
    );
    let email = unique_email("dana");
    let phone = unique_number();

    // 2 PM, chat: Dana is logged in on the site, which vouches for her email and phone.
    let secret_key = new_secret(&site);
    let claims = json!({
        "sub": format!("user-{phone}"), "aud": site.id, "exp": now() + 300,
        "email": email, "phone": phone, "name": "Dana"
    });
    let session = identify_ok(&site, &site.session(), &secret_key.token(claims), "attached");
    let chat = site.send(&session, "c1", "I forgot my password").expect_ok(200).clone();
    assert_eq!(chat["messages"][1]["bot"]["kind"], "answer", "{chat}");

    // 3 PM, email: the same customer, the same conversation.
    let raw = raw_email(
        &email,
        &site_address(&site),
        "Refund",
        &format!("r-{phone}@example.com"),
        "",
        true,
        "Also, can I get a refund for last month?",
    );
    assert_eq!(deliver(&email, &site_address(&site), &raw).0, 200);

    // 5 PM, the phone, from the verified number: the same conversation again.
    let call = Call::new(&site, Some(&phone));
    let greeting = call.ring();
    assert!(
        !greeting.said().contains("password") && !greeting.said().contains("refund"),
        "a call never reads history out: {}",
        greeting.xml
    );
    let answer = call.say(&greeting, "can I get a refund");
    assert!(answer.said().contains("5 to 10 business days"), "{}", answer.xml);
    let transfer = call.say(&answer, "I want to talk to someone");
    let dial = transfer.first("Dial").unwrap_or_else(|| panic!("{}", transfer.xml));
    assert_eq!(dial.text, SUPPORT);

    // At the same moment the agent's tools hear of the call, with everything before it.
    let events: Vec<Value> = receiver
        .wait_for(2)
        .iter()
        .map(|delivery| check_signed(delivery, &secret))
        .collect();
    let incoming = events
        .iter()
        .find(|e| e["type"] == "call.incoming")
        .unwrap_or_else(|| panic!("{events:?}"));
    assert!(events.iter().any(|e| e["type"] == "conversation.escalated"));
    let data = &incoming["data"];
    assert_eq!(data["call"]["from"], phone.as_str());
    assert_eq!(data["call"]["verified"], true);
    assert_eq!(data["escalation"]["reasons"][0], "visitor_asked");
    let transcript = data["transcript"].as_array().unwrap();
    let said_on = |channel: &str| -> Vec<&str> {
        transcript
            .iter()
            .filter(|m| m["role"] == "visitor" && m["channel"] == channel)
            .map(|m| m["text"].as_str().unwrap())
            .collect()
    };
    assert_eq!(said_on("chat"), ["I forgot my password"], "{transcript:?}");
    assert!(said_on("email")[0].contains("refund for last month"), "{transcript:?}");
    assert_eq!(said_on("phone"), ["can I get a refund", "I want to talk to someone"]);
    let identities = data["profile"]["identities"].to_string();
    assert!(
        identities.contains(&email) && identities.contains(&phone),
        "{identities}"
    );

    // A person answers; the call's end is in the one timeline, with the chat and the email.
    let done = call.dial_ended(&transfer, "completed", &[("DialCallDuration", "240")]);
    assert!(done.hangs_up());
    call.end(300);
    let conversation = conversation_of_identity(&site, &format!("phone:{phone}"));
    let messages = staff_view(&site, &conversation)["messages"].as_array().unwrap().clone();
    let channels: Vec<&str> = messages
        .iter()
        .filter(|m| m["role"] == "visitor")
        .map(|m| m["channel"].as_str().unwrap())
        .collect();
    assert_eq!(channels, ["chat", "email", "phone", "phone"]);
    let notes = call_notes(&messages);
    assert_eq!(notes.last().unwrap().1["outcome"], "answered");
}
