//! The human side: staff keys, the queue (most urgent, longest waiting first), staff replies
//! that reach the customer, and resolving, after which the bot answers again.

use serde_json::{Value, json};

use crate::support::{Reply, Site, conversation_of, edge, site_with_articles};

fn staff_key(site: &Site, name: &str) -> (String, String) {
    let reply = edge().json(
        "POST",
        &site.path("/staff-keys"),
        Some(&site.admin_key),
        &json!({ "name": name }),
    );
    let body = reply.expect_ok(201);
    (
        body["id"].as_str().unwrap().to_owned(),
        body["key"].as_str().unwrap().to_owned(),
    )
}

fn get(site: &Site, path: &str, key: &str) -> Reply {
    let auth = format!("Bearer {key}");
    edge().request("GET", &site.path(path), &[("Authorization", &auth)], None)
}

fn queue(site: &Site, key: &str, include_resolved: bool) -> Vec<Value> {
    let path = if include_resolved {
        "/queue?include=resolved"
    } else {
        "/queue"
    };
    get(site, path, key).expect_ok(200)["queue"].as_array().unwrap().clone()
}

#[test]
fn a_handed_over_conversation_reaches_the_queue_and_staff_replies_reach_the_customer() {
    let site = site_with_articles();
    let (_, key) = staff_key(&site, "Priya");
    let visitor = site.session();
    site.send(&visitor, "q1", "my invoice total looks wrong").expect_ok(200);
    site.send(&visitor, "q2", "I want to talk to a person").expect_ok(200);
    let conversation = conversation_of(&site, &visitor);

    let waiting = queue(&site, &key, false);
    assert_eq!(waiting.len(), 1);
    assert_eq!(waiting[0]["conversation"], conversation.as_str());
    assert_eq!(waiting[0]["state"], "waiting");
    assert_eq!(waiting[0]["reasons"][0], "visitor_asked");
    assert_eq!(waiting[0]["excerpt"], "I want to talk to a person");

    // Staff read the whole conversation, with why it was escalated.
    let view = get(&site, &format!("/conversations/{conversation}"), &key);
    let view = view.expect_ok(200);
    assert_eq!(view["status"], "waiting_for_human");
    assert_eq!(view["escalation"]["reasons"][0], "visitor_asked");
    assert!(view["messages"].as_array().unwrap().len() >= 4);

    // A reply reaches the customer; replying takes the conversation.
    let reply = edge().json(
        "POST",
        &site.path(&format!("/conversations/{conversation}/replies")),
        Some(&key),
        &json!({ "id": "r1", "text": "Hi, Priya here. I'm looking at your invoice now." }),
    );
    let reply = reply.expect_ok(200);
    assert_eq!(reply["message"]["role"], "agent");
    // Nobody has the chat open and no address is known: it waits in the chat.
    assert_eq!(reply["delivered_by"], "stored");
    let transcript = site.transcript(&visitor);
    let last = transcript.last().unwrap();
    assert_eq!(
        (last["role"].as_str(), last["text"].as_str()),
        (Some("agent"), Some("Hi, Priya here. I'm looking at your invoice now."))
    );
    assert_eq!(queue(&site, &key, false)[0]["assigned_to"], "Priya");
    // Priya hands it to a colleague; only staff who exist can take it.
    staff_key(&site, "Omar");
    let claim = site.path(&format!("/conversations/{conversation}/claim"));
    let handed = edge().json("POST", &claim, Some(&key), &json!({ "to": "Omar" }));
    assert_eq!(handed.expect_ok(200)["assigned_to"], "Omar");
    edge()
        .json("POST", &claim, Some(&key), &json!({ "to": "Nobody" }))
        .expect_error(400, "invalid_field");
    assert_eq!(queue(&site, &key, false)[0]["assigned_to"], "Omar");
    // The same reply id again is stored (and sent) once.
    let again = edge().json(
        "POST",
        &site.path(&format!("/conversations/{conversation}/replies")),
        Some(&key),
        &json!({ "id": "r1", "text": "Hi, Priya here. I'm looking at your invoice now." }),
    );
    assert_eq!(again.expect_ok(200)["delivered_by"], "duplicate");
    assert_eq!(site.transcript(&visitor).len(), transcript.len());
    // The bot stays quiet while a person has it...
    let quiet = site.send(&visitor, "q3", "I forgot my password");
    assert_eq!(quiet.expect_ok(200)["messages"].as_array().unwrap().len(), 1);

    // ...and answers again once it is resolved.
    let resolve = edge().json(
        "POST",
        &site.path(&format!("/conversations/{conversation}/resolve")),
        Some(&key),
        &json!({}),
    );
    assert_eq!(resolve.expect_ok(200)["state"], "resolved");
    assert!(queue(&site, &key, false).is_empty());
    assert_eq!(queue(&site, &key, true)[0]["state"], "resolved");
    let answered = site.send(&visitor, "q4", "I forgot my password");
    assert_eq!(answered.expect_ok(200)["messages"][1]["bot"]["kind"], "answer");
}

#[test]
fn the_queue_puts_the_most_urgent_first() {
    let site = site_with_articles();
    let (_, key) = staff_key(&site, "Sam");
    let calm = site.session();
    site.send(&calm, "q1", "could I speak to someone about my plan")
        .expect_ok(200);
    let urgent = site.session();
    site.send(&urgent, "q1", "our payments are down, urgent!")
        .expect_ok(200);
    let entries = queue(&site, &key, false);
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[0]["conversation"], conversation_of(&site, &urgent).as_str());
    assert_eq!(entries[0]["priority"], "urgent");
    assert_eq!(entries[1]["priority"], "normal");
}

#[test]
fn staff_keys_are_checked_and_revocable() {
    let site = site_with_articles();
    let (id, key) = staff_key(&site, "Lee");
    get(&site, "/queue", "tl_staff_wrong").expect_error(401, "invalid_key");
    edge()
        .request("GET", &site.path("/queue"), &[], None)
        .expect_error(401, "invalid_key");
    // Staff keys do not administer the site.
    edge()
        .json(
            "POST",
            &site.path("/staff-keys"),
            Some(&key),
            &json!({ "name": "me too" }),
        )
        .expect_error(401, "invalid_key");
    let listed = get(&site, "/staff-keys", &site.admin_key).expect_ok(200).to_string();
    assert!(listed.contains("Lee") && !listed.contains(&key));
    edge()
        .json("POST", &site.path("/staff-keys"), Some(&site.admin_key), &json!({}))
        .expect_error(400, "invalid_field");
    get(&site, "/queue", &key).expect_ok(200);
    let auth = format!("Bearer {}", site.admin_key);
    edge()
        .request(
            "DELETE",
            &site.path(&format!("/staff-keys/{id}")),
            &[("Authorization", &auth)],
            None,
        )
        .expect_ok(200);
    get(&site, "/queue", &key).expect_error(401, "invalid_key");
    // Unknown conversations and bad replies are refused clearly.
    get(&site, "/conversations/v_0000000000", &site.admin_key).expect_error(404, "unknown_conversation");
    edge()
        .json(
            "POST",
            &site.path("/conversations/v_0000000000/replies"),
            Some(&site.admin_key),
            &json!({ "id": "r1" }),
        )
        .expect_error(400, "invalid_field");
    edge()
        .json(
            "POST",
            &site.path("/conversations/v_0000000000/replies"),
            Some(&site.admin_key),
            &json!({ "id": "r1", "text": "hello?" }),
        )
        .expect_error(404, "unknown_conversation");
}

#[test]
fn a_reply_to_a_customer_who_left_the_chat_goes_to_their_email() {
    let site = site_with_articles();
    let (_, key) = staff_key(&site, "Priya");
    let email = format!("left-{}-{}@example.com", std::process::id(), conversation_suffix());
    let visitor = site.session();
    site.send(
        &visitor,
        "q1",
        &format!("my email is {email}, please help with my invoice"),
    )
    .expect_ok(200);
    // The address is only claimed (a code was sent, never entered): a reply may still go there.
    edge()
        .json(
            "POST",
            &site.path("/identify/email"),
            Some(&visitor),
            &json!({ "email": email }),
        )
        .expect_ok(202);
    site.send(&visitor, "q2", "talk to a person").expect_ok(200);
    let conversation = conversation_of(&site, &visitor);
    let reply = edge().json(
        "POST",
        &site.path(&format!("/conversations/{conversation}/replies")),
        Some(&key),
        &json!({ "id": "r1", "text": "Hi, your invoice is corrected: the VAT number is fixed." }),
    );
    assert_eq!(reply.expect_ok(200)["delivered_by"], "email");
    let mail = edge().mail_to(&email);
    let last = mail.last().expect("an email");
    assert_eq!(last["Subject"], "A reply from Test site support");
    assert!(
        last["TextBody"]
            .as_str()
            .unwrap()
            .starts_with("Hi, your invoice is corrected")
    );
    // It is in the chat too, for when they come back.
    assert_eq!(site.transcript(&visitor).last().unwrap()["role"], "agent");
}

fn conversation_suffix() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
        % 1_000_000_000
}

#[test]
fn the_customer_sees_a_person_writing_while_staff_type() {
    let site = site_with_articles();
    let (_, key) = staff_key(&site, "Priya");
    let visitor = site.session();
    site.send(&visitor, "t1", "I want to talk to a person").expect_ok(200);
    let conversation = conversation_of(&site, &visitor);
    let mut socket = crate::live::connect(&site, Some(&visitor), None).unwrap();
    assert_eq!(crate::live::next(&mut socket)["type"], "history");

    let path = site.path(&format!("/conversations/{conversation}/typing"));
    edge()
        .request("POST", &path, &[], None)
        .expect_error(401, "invalid_key");
    let auth = format!("Bearer {key}");
    edge()
        .request("POST", &path, &[("Authorization", &auth)], None)
        .expect_ok(200);
    let frame = crate::live::next(&mut socket);
    assert_eq!(frame, json!({ "type": "typing", "role": "agent", "name": "Priya" }));
    // Typing stores nothing.
    assert_eq!(site.transcript(&visitor).len(), 2);
}

#[test]
fn the_customer_rates_the_help_and_staff_see_it() {
    let site = site_with_articles();
    let (_, key) = staff_key(&site, "Priya");
    let visitor = site.session();
    site.send(&visitor, "r1", "I want to talk to a person").expect_ok(200);
    let conversation = conversation_of(&site, &visitor);
    let path = site.path("/conversation/rating");
    for (body, field) in [
        (json!({ "score": 0 }), "score"),
        (json!({ "score": 6 }), "score"),
        (json!({ "score": "5" }), "score"),
        (json!({}), "score"),
        (json!({ "score": 4, "comment": "x".repeat(1001) }), "comment"),
        (json!({ "score": 4, "comment": 7 }), "comment"),
    ] {
        let reply = edge().json("POST", &path, Some(&visitor), &body);
        reply.expect_error(400, "invalid_field");
        assert_eq!(reply.body["error"]["field"], field, "{body}");
    }
    edge()
        .json("POST", &path, None, &json!({ "score": 5 }))
        .expect_error(401, "missing_token");
    let staff_view = || get(&site, &format!("/conversations/{conversation}"), &key);
    assert!(
        staff_view().expect_ok(200).get("rating").is_none(),
        "nothing stored by refusals"
    );

    let reply = edge().json(
        "POST",
        &path,
        Some(&visitor),
        &json!({ "score": 5, "comment": "  Priya was great  " }),
    );
    assert_eq!(reply.expect_ok(200)["rating"]["score"], 5);
    let rating = staff_view().expect_ok(200)["rating"].clone();
    assert_eq!(rating["score"], 5);
    assert_eq!(rating["comment"], "Priya was great");
    assert!(rating["at"].as_u64().unwrap() > 0);
}
