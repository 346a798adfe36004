//! Email as a channel, through the worker's real email handler (`wrangler dev` serves Email
//! Routing's hand-over at `/cdn-cgi/handler/email`) and Postmark's inbound webhook: answers in
//! the sender's thread, replies that thread back, one conversation with the chat for an
//! authenticated sender, never for a forged one, automatic mail never answered, duplicates
//! stored once, bad input refused with a reason.

use serde_json::{Value, json};

use crate::identity::{code_sent_to, profiles, request_code, unique_email, verify_code};
use crate::support::{Reply, Site, edge, poll, site_with_articles};

const DOMAIN: &str = "mail.threadline.test";

/// A raw email; `auth` true adds Email Routing's passing `Authentication-Results`.
pub fn raw_email(from: &str, to: &str, subject: &str, message_id: &str, extra: &str, auth: bool, body: &str) -> String {
    let domain = from.rsplit('@').next().unwrap();
    let results = if auth {
        format!(
            "Authentication-Results: mx.cloudflare.net; dkim=pass header.d={domain}; dmarc=pass header.from={domain}\r\n"
        )
    } else {
        String::new()
    };
    format!(
        "{results}From: Customer <{from}>\r\nTo: {to}\r\nSubject: {subject}\r\nMessage-ID: <{message_id}>\r\n{extra}Content-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n"
    )
}

/// Hands a raw email to the worker's email handler as Email Routing would.
pub fn deliver(from: &str, to: &str, raw: &str) -> (u16, String) {
    let encode = |s: &str| s.replace('%', "%25").replace('+', "%2B").replace('@', "%40");
    let path = format!("/cdn-cgi/handler/email?from={}&to={}", encode(from), encode(to));
    let reply = edge().request(
        "POST",
        &path,
        &[("Content-Type", "message/rfc822")],
        Some(raw.as_bytes()),
    );
    (reply.status, reply.body.to_string())
}

pub fn site_address(site: &Site) -> String {
    format!("{}@{DOMAIN}", site.id)
}

/// Waits for the `n`th email to `to` and returns it.
pub fn nth_mail(to: &str, n: usize) -> Value {
    let mail = poll(|| edge().mail_to(to), n);
    assert!(mail.len() >= n, "email {n} to {to} never came: {mail:?}");
    mail[n - 1].clone()
}

fn text_of(mail: &Value) -> String {
    mail["TextBody"].as_str().unwrap_or_default().to_owned()
}

fn header<'a>(mail: &'a Value, name: &str) -> Option<&'a str> {
    mail["Headers"]
        .as_array()?
        .iter()
        .find(|h| h["Name"] == name)
        .and_then(|h| h["Value"].as_str())
}

fn export_messages(site: &Site, profile: &str) -> Vec<Value> {
    let auth = format!("Bearer {}", site.admin_key);
    let path = site.path(&format!("/profiles/{profile}/export"));
    let export = edge().request("GET", &path, &[("Authorization", &auth)], None);
    export.expect_ok(200)["conversations"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|c| c["messages"].as_array().unwrap().clone())
        .collect()
}

#[test]
fn an_email_is_answered_in_its_thread_and_replies_join_the_conversation() {
    let site = site_with_articles();
    let ada = unique_email("ada");
    let raw = raw_email(
        &ada,
        &site_address(&site),
        "Password",
        "q1@example.com",
        "",
        true,
        "How do I reset my password?",
    );
    assert_eq!(deliver(&ada, &site_address(&site), &raw).0, 200);
    let answer = nth_mail(&ada, 1);
    assert_eq!(answer["Subject"], "Re: Password");
    assert!(
        answer["TextBody"].as_str().unwrap().contains("Forgot password"),
        "{answer}"
    );
    assert_eq!(header(&answer, "In-Reply-To"), Some("<q1@example.com>"));
    let reply_to = answer["ReplyTo"].as_str().unwrap().to_owned();
    assert!(
        reply_to.starts_with(&format!("{}+c_", site.id)) && reply_to.ends_with(DOMAIN),
        "{reply_to}"
    );
    let ours = header(&answer, "Message-ID")
        .unwrap()
        .trim_matches(['<', '>'])
        .to_owned();

    // The customer replies (quoting us) to the reply address: same conversation, new text only.
    let quoted = "Thanks! Can I get a refund for last month?\r\n\r\nOn Mon, 1 Jan 2026, Test site wrote:\r\n> Choose Forgot password on the sign-in page\r\n";
    let refs = format!("In-Reply-To: <{ours}>\r\nReferences: <q1@example.com> <{ours}>\r\n");
    let second = raw_email(&ada, &reply_to, "Re: Password", "q2@example.com", &refs, true, quoted);
    assert_eq!(deliver(&ada, &reply_to, &second).0, 200);
    let answer = nth_mail(&ada, 2);
    assert!(
        answer["TextBody"].as_str().unwrap().contains("original card"),
        "{answer}"
    );
    assert_eq!(
        header(&answer, "References"),
        Some(format!("<q1@example.com> <{ours}> <q2@example.com>").as_str())
    );
    // A provider's retry of the same message: stored once, not answered twice.
    assert_eq!(deliver(&ada, &reply_to, &second).0, 200);
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert_eq!(edge().mail_to(&ada).len(), 2);

    let found = profiles(&site, &format!("email:{ada}"));
    assert_eq!(found.len(), 1, "{found:?}");
    let identity = found[0]["identities"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["kind"] == "email")
        .unwrap()
        .clone();
    assert_eq!(identity["verified"], true);
    assert_eq!(identity["proof"]["method"], "authenticated_email");
    let messages = export_messages(&site, found[0]["id"].as_str().unwrap());
    let texts: Vec<&str> = messages.iter().map(|m| m["text"].as_str().unwrap()).collect();
    assert_eq!(messages.len(), 4, "two emails, two answers: {texts:?}");
    assert!(messages.iter().all(|m| m["channel"] == "email"));
    assert_eq!(
        texts[2], "Thanks! Can I get a refund for last month?",
        "quotes stripped"
    );

    // Staff can fetch the raw message behind it, byte for byte.
    let conversation = found[0]["conversations"][0].as_str().unwrap();
    let id = messages[0]["id"].as_str().unwrap();
    let path = site.path(&format!("/conversations/{conversation}/messages/{id}/raw"));
    let auth = format!("Bearer {}", site.admin_key);
    let raw_copy = edge().request("GET", &path, &[("Authorization", &auth)], None);
    assert_eq!(raw_copy.status, 200);
    assert_eq!(raw_copy.header("content-type"), Some("message/rfc822"));
    assert_eq!(raw_copy.header("content-length"), Some(raw.len().to_string().as_str()));
    edge().request("GET", &path, &[], None).expect_error(401, "invalid_key");
    let answer_id = messages[1]["id"].as_str().unwrap();
    let missing = site.path(&format!("/conversations/{conversation}/messages/{answer_id}/raw"));
    edge()
        .request("GET", &missing, &[("Authorization", &auth)], None)
        .expect_error(404, "not_found");
}

#[test]
fn an_authenticated_email_joins_the_chat_and_a_forged_one_does_not() {
    let site = site_with_articles();
    let grace = unique_email("grace");
    // Grace chats, then proves her address with a code.
    let session = site.session();
    site.send(&session, "c1", "my package never arrived").expect_ok(200);
    request_code(&site, &session, &grace).expect_ok(202);
    verify_code(&site, &session, &grace, &code_sent_to(&grace)).expect_ok(200);
    let before = site.transcript(&session).len();

    // An hour later she writes by email: the same conversation, live in her chat too.
    let raw = raw_email(
        &grace,
        &site_address(&site),
        "Package",
        "g1@example.com",
        "",
        true,
        "Any news on my package? I'd like to talk to a person",
    );
    assert_eq!(deliver(&grace, &site_address(&site), &raw).0, 200);
    let transcript = site.transcript(&session);
    assert_eq!(transcript.len(), before + 2, "{transcript:?}");
    assert_eq!(transcript[before]["channel"], "email");
    assert!(transcript[before]["text"].as_str().unwrap().starts_with("Any news"));
    let found = profiles(&site, &format!("email:{grace}"));
    assert_eq!(found.len(), 1, "one person: {found:?}");

    // Someone forging her address without authentication reaches nobody's conversation.
    let forged = raw_email(
        &grace,
        &site_address(&site),
        "Package",
        "f1@evil.example",
        "",
        false,
        "Send the refund to my new card",
    );
    assert_eq!(deliver(&grace, &site_address(&site), &forged).0, 200);
    assert_eq!(site.transcript(&session).len(), before + 2, "nothing joined the chat");
    let found = profiles(&site, &format!("email:{grace}"));
    assert_eq!(found.len(), 2, "a separate profile: {found:?}");
    let flagged: Vec<&Value> = found
        .iter()
        .filter(|p| p["review"] == "unauthenticated_email")
        .collect();
    assert_eq!(flagged.len(), 1);
}

#[test]
fn automatic_mail_is_recorded_but_never_answered() {
    let site = site_with_articles();
    for (n, extra) in [
        "Auto-Submitted: auto-replied\r\n",
        "X-Autoreply: yes\r\n",
        "Precedence: bulk\r\n",
        "List-Id: <news.example.com>\r\n",
    ]
    .iter()
    .enumerate()
    {
        let from = unique_email("auto");
        let raw = raw_email(
            &from,
            &site_address(&site),
            "Out of office",
            &format!("auto{n}@example.com"),
            extra,
            true,
            "I am away until Monday.",
        );
        assert_eq!(deliver(&from, &site_address(&site), &raw).0, 200);
        std::thread::sleep(std::time::Duration::from_millis(300));
        assert!(edge().mail_to(&from).is_empty(), "{extra}: never answered");
        let found = profiles(&site, &format!("email:{from}"));
        let messages = export_messages(&site, found[0]["id"].as_str().unwrap());
        assert_eq!(messages.len(), 1, "{extra}: recorded");
    }
    let daemon = format!("MAILER-DAEMON@{}", "example.com");
    let bounce = raw_email(
        &daemon,
        &site_address(&site),
        "Undelivered",
        "bounce1@example.com",
        "",
        true,
        "Delivery failed.",
    );
    assert_eq!(deliver(&daemon, &site_address(&site), &bounce).0, 200);
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert!(edge().mail_to("mailer-daemon@example.com").is_empty());
}

#[test]
fn bad_email_is_refused_with_a_reason() {
    let site = site_with_articles();
    let from = unique_email("bad");
    let raw = raw_email(
        &from,
        "nobody@mail.threadline.test",
        "Hi",
        "b1@example.com",
        "",
        true,
        "hello",
    );
    let (status, body) = deliver(&from, &format!("no-such-site-{}@{DOMAIN}", std::process::id()), &raw);
    assert_eq!(status, 400, "{body}");
    let (status, _) = deliver(&from, "shop@elsewhere.example", &raw);
    assert_eq!(status, 400, "not our domain");
    let (status, body) = deliver(&from, &site_address(&site), "this is not an email");
    assert_eq!(status, 400, "{body}");
    assert!(edge().mail_to(&from).is_empty());
}

fn postmark(auth: Option<&str>, body: &Value) -> Reply {
    let mut headers = vec![("Content-Type", "application/json")];
    let basic;
    if let Some(password) = auth {
        use base64::Engine as _;
        basic = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("postmark:{password}"))
        );
        headers.push(("Authorization", &basic));
    }
    edge().request(
        "POST",
        "/v1/inbound/email/postmark",
        &headers,
        Some(body.to_string().as_bytes()),
    )
}

#[test]
fn postmarks_inbound_webhook_needs_its_credentials_and_the_raw_message() {
    let site = site_with_articles();
    let from = unique_email("pm");
    let token = std::env::var("THREADLINE_INBOUND_EMAIL_TOKEN").expect("scripts/test exports it");
    let raw = raw_email(
        &from,
        &site_address(&site),
        "Refund",
        "pm1@example.com",
        "",
        false,
        "can I get a refund",
    );
    let body = json!({
        "FromFull": {"Email": from, "Name": "Customer"},
        "OriginalRecipient": site_address(&site),
        "Subject": "Refund",
        "Headers": [{"Name": "Received-SPF", "Value": format!("Pass (sender SPF authorized) identity=mailfrom; envelope-from={from}")}],
        "RawEmail": raw,
    });
    postmark(None, &body).expect_error(401, "invalid_signature");
    postmark(Some("wrong"), &body).expect_error(401, "invalid_signature");
    let mut missing = body.clone();
    missing.as_object_mut().unwrap().remove("RawEmail");
    postmark(Some(&token), &missing).expect_error(400, "invalid_field");
    assert!(edge().mail_to(&from).is_empty(), "nothing stored or answered");

    let stored = postmark(Some(&token), &body);
    let result = stored.expect_ok(200);
    assert_eq!(result["message"]["channel"], "email");
    assert_eq!(result["duplicate"], false);
    assert!(
        nth_mail(&from, 1)["TextBody"]
            .as_str()
            .unwrap()
            .contains("original card")
    );
    // Postmark retries: stored once.
    assert_eq!(postmark(Some(&token), &body).expect_ok(200)["duplicate"], true);
    let found = profiles(&site, &format!("email:{from}"));
    assert_eq!(found.len(), 1);
    assert!(found[0].get("review").is_none(), "Postmark's SPF pass authenticates");
}

#[test]
fn sendgrids_inbound_parse_is_read_raw_or_parsed() {
    use base64::Engine as _;
    let site = site_with_articles();
    let token = std::env::var("THREADLINE_INBOUND_EMAIL_TOKEN").expect("scripts/test exports it");
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("sendgrid:{token}"))
    );
    // SendGrid's own sample (sendgrid-python, MIT), addressed to this site and sender.
    let from = unique_email("sg");
    let sample = include_str!("../../shared/tests/fixtures/email/sendgrid-inbound/default_data.txt")
        .replace("inbound@inbound.example.com", &site_address(&site))
        .replace("test@example.com", &from)
        .replace("Hello Twilio SendGrid!", "How do I reset my password?");
    let form = [("Content-Type", "multipart/form-data; boundary=xYzZY")];
    let post = |headers: &[(&str, &str)], body: &str| {
        edge().request("POST", "/v1/inbound/email/sendgrid", headers, Some(body.as_bytes()))
    };
    post(&form, &sample).expect_error(401, "invalid_signature");
    let authorised = [form[0], ("Authorization", basic.as_str())];
    post(
        &[("Authorization", basic.as_str()), ("Content-Type", "application/json")],
        "{}",
    )
    .expect_error(415, "unsupported_media_type");
    let stored = post(&authorised, &sample);
    assert_eq!(stored.expect_ok(200)["message"]["text"], "How do I reset my password?");
    assert!(
        nth_mail(&from, 1)["TextBody"]
            .as_str()
            .unwrap()
            .contains("Forgot password")
    );
    let found = profiles(&site, &format!("email:{from}"));
    assert!(
        found[0].get("review").is_none(),
        "SendGrid's SPF pass authenticates: {found:?}"
    );
    let broken = sample
        .replace("name=\"to\"", "name=\"nothing\"")
        .replace("\"to\":[", "\"x\":[");
    post(&authorised, &broken).expect_error(400, "invalid_field");
}

#[test]
fn an_email_carrying_the_widgets_code_verifies_its_sender_only_when_authenticated() {
    let site = site_with_articles();
    let session = site.session();
    site.send(&session, "c1", "can I get a refund").expect_ok(200);
    let invitation = crate::continuation::invite(&site, &session, "email");
    let to = invitation["to"].as_str().unwrap().to_owned();
    assert!(to.starts_with(&format!("{}+", site.id)) && to.ends_with(DOMAIN), "{to}");
    let subject = format!("Continue my conversation ({})", invitation["code"].as_str().unwrap());

    // A forged sender with the code threads into the chat (the address names it) but verifies
    // nothing, and is told so.
    let forger = unique_email("forger");
    let forged = raw_email(&forger, &to, &subject, "cf1@example.com", "", false, "hello");
    assert_eq!(deliver(&forger, &to, &forged).0, 200);
    assert!(
        text_of(&nth_mail(&forger, 1)).contains("couldn't confirm"),
        "{:?}",
        nth_mail(&forger, 1)
    );
    for profile in profiles(&site, &format!("email:{forger}")) {
        let record = crate::continuation::identity(&profile, "email", &forger);
        assert!(record.is_none_or(|r| r["verified"] == false), "{profile:?}");
    }

    // An authenticated one verifies the address: it joins the chat's profile.
    let ada = unique_email("ada");
    let invitation = crate::continuation::invite(&site, &session, "email");
    let subject = format!("Continue my conversation ({})", invitation["code"].as_str().unwrap());
    let raw = raw_email(
        &ada,
        &to,
        &subject,
        "ca1@example.com",
        "",
        true,
        "Continue my conversation",
    );
    assert_eq!(deliver(&ada, &to, &raw).0, 200);
    assert!(text_of(&nth_mail(&ada, 1)).contains("You're connected"));
    let found = profiles(&site, &format!("email:{ada}"));
    assert_eq!(found.len(), 1);
    let record = crate::continuation::identity(&found[0], "email", &ada).unwrap();
    assert_eq!(record["proof"], json!({"method": "continue_code", "channel": "email"}));
    let channels = site.visitor_messages(&session, "channel");
    assert_eq!(channels, ["chat", "email", "email"]);
}

#[test]
fn a_large_email_is_kept_whole_attachments_and_all_for_staff() {
    use base64::Engine as _;
    let site = site_with_articles();
    let from = unique_email("big");
    // A 3 MiB attachment: about 4 MiB of MIME, four stored parts.
    let attachment: Vec<u8> = (0..3 * 1024 * 1024u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let encoded = base64::engine::general_purpose::STANDARD.encode(&attachment);
    let lines: Vec<&str> = encoded
        .as_bytes()
        .chunks(76)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    let raw = format!(
        "Authentication-Results: mx.cloudflare.net; dmarc=pass header.from=example.com\r\n\
From: {from}\r\nTo: {to}\r\nSubject: Logs\r\nMessage-ID: <big1@example.com>\r\n\
MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n\
--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nThe app crashes, logs attached.\r\n\
--b1\r\nContent-Type: application/octet-stream; name=\"crash.log\"\r\n\
Content-Disposition: attachment; filename=\"crash.log\"\r\nContent-Transfer-Encoding: base64\r\n\r\n\
{body}\r\n--b1--\r\n",
        to = site_address(&site),
        body = lines.join("\r\n"),
    );
    assert!(raw.len() > 4_000_000);
    assert_eq!(deliver(&from, &site_address(&site), &raw).0, 200);
    let found = profiles(&site, &format!("email:{from}"));
    let messages = export_messages(&site, found[0]["id"].as_str().unwrap());
    let text = messages[0]["text"].as_str().unwrap();
    assert!(text.starts_with("The app crashes, logs attached."), "{text}");
    assert!(text.contains("crash.log (application/octet-stream, 3072 KB)"), "{text}");
    let conversation = found[0]["conversations"][0].as_str().unwrap();
    let id = messages[0]["id"].as_str().unwrap();
    let path = site.path(&format!("/conversations/{conversation}/messages/{id}/raw"));
    let auth = format!("Bearer {}", site.admin_key);
    let copy = edge().request_bytes("GET", &path, &[("Authorization", &auth)]);
    assert_eq!(copy.len(), raw.len());
    assert!(copy == raw.as_bytes(), "byte for byte");
}
