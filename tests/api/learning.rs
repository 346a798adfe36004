//! The knowledge base learns: a customer's "yes, that helped" teaches the article their
//! question (and enough "no"s take it back), and what staff resolve becomes a knowledge proposal
//! that, once approved, answers the next customer.

use serde_json::{Value, json};

use crate::support::{Reply, Site, conversation_of, edge, poll, site_with_articles};

fn get(site: &Site, path: &str) -> Reply {
    let auth = format!("Bearer {}", site.admin_key);
    edge().request("GET", &site.path(path), &[("Authorization", &auth)], None)
}

fn post(site: &Site, path: &str, body: &Value) -> Reply {
    edge().json("POST", &site.path(path), Some(&site.admin_key), body)
}

/// The bot's reply to `question` from a new visitor.
fn ask(site: &Site, question: &str) -> (String, Value) {
    let visitor = site.session();
    let reply = site.send(&visitor, "q", question);
    let bot = reply.expect_ok(200)["messages"][1].clone();
    (visitor, bot)
}

fn vote(site: &Site, visitor: &str, bot: &Value, helpful: bool) {
    let body = json!({ "message": bot["id"], "helpful": helpful });
    edge()
        .json("POST", &site.path("/conversation/feedback"), Some(visitor), &body)
        .expect_ok(200);
}

fn learned(site: &Site) -> Vec<Value> {
    get(site, "/learned").expect_ok(200)["learned"]
        .as_array()
        .unwrap()
        .clone()
}

/// The learned phrasing once the index has caught up (`in_index` as wanted).
fn settled(site: &Site, in_index: bool) -> Value {
    let got = poll(
        || {
            learned(site)
                .into_iter()
                .filter(|p| p["in_index"] == in_index)
                .collect()
        },
        1,
    );
    got.into_iter().next().unwrap_or_else(|| {
        panic!(
            "no learned phrasing with in_index {in_index} after 10 s: {:?}",
            learned(site)
        )
    })
}

#[test]
fn a_yes_teaches_the_article_its_question_and_more_noes_take_it_back() {
    let site = site_with_articles();
    let question = "I forgot my password, I cannot sign in to my account";
    let (visitor, before) = ask(&site, question);
    assert_eq!(before["bot"]["article"]["id"], "reset-password", "{before}");
    let confidence_before = before["bot"]["confidence"].as_f64().unwrap();
    vote(&site, &visitor, &before, true);

    let phrasing = settled(&site, true);
    assert_eq!(
        (
            &phrasing["article"],
            &phrasing["question"],
            &phrasing["yes"],
            &phrasing["no"]
        ),
        (&json!("reset-password"), &json!(question), &json!(1), &json!(0))
    );
    // The next customer asking it that way is answered with more confidence.
    let (_, after) = ask(&site, question);
    let confidence_after = after["bot"]["confidence"].as_f64().unwrap();
    assert!(
        confidence_after > confidence_before,
        "{confidence_before} -> {confidence_after}"
    );

    // Two customers say the same answer did not help them: it leaves the index again.
    for _ in 0..2 {
        let (visitor, bot) = ask(&site, question);
        vote(&site, &visitor, &bot, false);
    }
    let phrasing = settled(&site, false);
    assert_eq!((&phrasing["yes"], &phrasing["no"]), (&json!(1), &json!(2)));
    let (_, again) = ask(&site, question);
    let confidence_again = again["bot"]["confidence"].as_f64().unwrap();
    assert!(
        (confidence_again - confidence_before).abs() < 1e-6,
        "back to the owner's phrasings: {confidence_before} vs {confidence_again}"
    );
}

#[test]
fn what_staff_resolve_becomes_a_proposal_that_answers_the_next_customer_once_approved() {
    let site = site_with_articles();
    let question = "Do you ship to Norway?";
    let (visitor, bot) = ask(&site, question);
    assert_ne!(bot["bot"]["kind"], "answer", "the bot does not know yet: {bot}");
    site.send(&visitor, "p", "I want to talk to a person").expect_ok(200);
    let conversation = conversation_of(&site, &visitor);
    let path = format!("/conversations/{conversation}");
    post(
        &site,
        &format!("{path}/replies"),
        &json!({ "id": "r1", "text": "Yes, we ship to Norway within 5 working days." }),
    )
    .expect_ok(200);

    let resolved = post(&site, &format!("{path}/resolve"), &json!({}));
    let proposal = resolved.expect_ok(200)["proposal"].clone();
    assert_eq!(proposal["state"], "pending");
    assert_eq!(proposal["kind"], "article");
    assert_eq!(proposal["article"]["id"], "learned-do-you-ship-to-norway");
    assert_eq!(proposal["article"]["title"], question);
    assert_eq!(
        proposal["article"]["body"],
        "Yes, we ship to Norway within 5 working days."
    );
    let pending = get(&site, "/proposals").expect_ok(200)["proposals"].clone();
    assert_eq!(pending.as_array().unwrap().len(), 1);
    let (_, still) = ask(&site, question);
    assert_ne!(still["bot"]["kind"], "answer", "nothing is learned before approval");

    let id = proposal["id"].as_str().unwrap();
    let approved = post(&site, &format!("/proposals/{id}/approve"), &json!({}));
    assert_eq!(approved.expect_ok(200)["state"], "approved");
    let articles = get(&site, "/articles");
    let ids: Vec<&str> = articles
        .expect_ok(200)
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap())
        .collect();
    assert!(ids.contains(&"learned-do-you-ship-to-norway"), "{ids:?}");
    let (_, answered) = ask(&site, "do you ship to norway");
    assert_eq!(answered["bot"]["kind"], "answer", "{answered}");
    assert_eq!(answered["bot"]["article"]["id"], "learned-do-you-ship-to-norway");

    post(&site, &format!("/proposals/{id}/approve"), &json!({})).expect_error(409, "superseded");
    post(&site, "/proposals/kp-nope/reject", &json!({})).expect_error(404, "not_found");
    assert!(
        get(&site, "/proposals").expect_ok(200)["proposals"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    get(&site, "/proposals?state=maybe").expect_error(400, "invalid_field");
}

#[test]
fn staff_link_an_article_or_refuse_a_proposal_and_nothing_changes_on_a_bad_one() {
    let site = site_with_articles();
    let (visitor, _) = ask(&site, "my card was charged twice this month");
    site.send(&visitor, "p", "I want to talk to a person").expect_ok(200);
    let conversation = conversation_of(&site, &visitor);
    let resolve = format!("/conversations/{conversation}/resolve");

    let refused = post(&site, &resolve, &json!({ "article": "no-such-article" }));
    refused.expect_error(400, "invalid_field");
    assert_eq!(refused.body["error"]["field"], "article");
    post(&site, &resolve, &json!({ "article": 7 })).expect_error(400, "invalid_field");
    let queue = get(&site, "/queue").expect_ok(200)["queue"].clone();
    assert_eq!(
        queue[0]["conversation"],
        conversation.as_str(),
        "still waiting: nothing changed"
    );

    let resolved = post(&site, &resolve, &json!({ "article": "refunds" }));
    let proposal = resolved.expect_ok(200)["proposal"].clone();
    assert_eq!(proposal["kind"], "phrasing");
    assert_eq!(
        (&proposal["article"], &proposal["question"]),
        (&json!("refunds"), &json!("my card was charged twice this month"))
    );
    let id = proposal["id"].as_str().unwrap();
    let rejected = post(&site, &format!("/proposals/{id}/reject"), &json!({}));
    assert_eq!(rejected.expect_ok(200)["state"], "rejected");
    let listed = get(&site, "/proposals?state=rejected").expect_ok(200)["proposals"].clone();
    assert_eq!(listed[0]["id"], id);
    assert!(learned(&site).is_empty(), "a rejected proposal teaches nothing");

    // Resolved without proposing: nothing proposed.
    let (visitor, _) = ask(&site, "where is my parcel");
    site.send(&visitor, "p", "I want to talk to a person").expect_ok(200);
    let conversation = conversation_of(&site, &visitor);
    let quiet = post(
        &site,
        &format!("/conversations/{conversation}/resolve"),
        &json!({ "propose": false }),
    );
    assert!(quiet.expect_ok(200).get("proposal").is_none());
}
