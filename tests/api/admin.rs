//! The operator and site-admin APIs: creating sites, admin keys, and knowledge-base uploads
//! that are all-or-nothing.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::support::{ARTICLES, ORIGIN, edge, site_with_articles};

#[test]
fn only_the_operator_creates_sites_and_ids_are_unique() {
    let site = site_with_articles();
    let body = json!({ "id": "x-operator-test", "name": "X" });
    edge()
        .json("POST", "/v1/sites", None, &body)
        .expect_error(401, "invalid_key");
    edge()
        .json("POST", "/v1/sites", Some(&site.admin_key), &body)
        .expect_error(401, "invalid_key");
    let reply = edge().json(
        "POST",
        "/v1/sites",
        Some(&edge().operator_key),
        &json!({ "id": site.id, "name": "Again" }),
    );
    reply.expect_error(409, "site_exists");
    let reply = edge().json(
        "POST",
        "/v1/sites",
        Some(&edge().operator_key),
        &json!({ "id": "Bad Id", "name": "X" }),
    );
    reply.expect_error(400, "invalid_field");
    assert_eq!(reply.body["error"]["field"], "id");
    let reply = edge().json(
        "POST",
        "/v1/sites",
        Some(&edge().operator_key),
        &json!({ "id": "ok-id", "name": "X", "allowed_origins": ["not an origin"] }),
    );
    assert_eq!(reply.body["error"]["field"], "allowed_origins[0]");
}

#[test]
fn admin_keys_belong_to_one_site_and_rotate() {
    let site = site_with_articles();
    let other = site_with_articles();
    let auth = |key: &str| format!("Bearer {key}");
    edge()
        .request(
            "GET",
            &site.path(""),
            &[("Authorization", &auth(&other.admin_key))],
            None,
        )
        .expect_error(401, "invalid_key");
    let view = edge().request(
        "GET",
        &site.path(""),
        &[("Authorization", &auth(&site.admin_key))],
        None,
    );
    let body = view.expect_ok(200);
    assert_eq!(body["n_articles"], 2);
    assert!(
        body.get("admin_key_hash").is_none(),
        "key material never leaves the edge: {body}"
    );

    let rotated = edge().json("POST", &site.path("/admin-key"), Some(&edge().operator_key), &json!({}));
    let new_key = rotated.expect_ok(200)["admin_key"].as_str().unwrap().to_owned();
    edge()
        .request(
            "GET",
            &site.path(""),
            &[("Authorization", &auth(&site.admin_key))],
            None,
        )
        .expect_error(401, "invalid_key");
    edge()
        .request("GET", &site.path(""), &[("Authorization", &auth(&new_key))], None)
        .expect_ok(200);
}

#[test]
fn a_bad_upload_names_the_line_and_keeps_the_old_articles() {
    let site = site_with_articles();
    let bad = format!("{ARTICLES}{{\"id\":\"broken\",\"title\":\"\"}}\n");
    let reply = site.load_articles(&bad);
    reply.expect_error(400, "invalid_field");
    assert_eq!(reply.body["error"]["field"], "line 3: title");
    let reply = site.load_articles("{not json\n");
    reply.expect_error(400, "malformed_json");
    assert_eq!(reply.body["error"]["field"], "line 1");

    // The site still answers from the articles it had.
    let token = site.session();
    let messages = site.send(&token, "q", "I forgot my password").expect_ok(200)["messages"].clone();
    assert_eq!(messages[1]["bot"]["article"]["id"], "reset-password");

    let auth = format!("Bearer {}", site.admin_key);
    let reply = edge().request(
        "PUT",
        &site.path("/articles"),
        &[("Authorization", &auth), ("Content-Type", "application/json")],
        Some(b"[]"),
    );
    reply.expect_error(415, "unsupported_media_type");
}

#[test]
fn articles_are_listed_back_as_uploaded() {
    let site = site_with_articles();
    let auth = format!("Bearer {}", site.admin_key);
    let reply = edge().request("GET", &site.path("/articles"), &[("Authorization", &auth)], None);
    let articles = reply.expect_ok(200).as_array().unwrap().clone();
    let ids: Vec<&str> = articles.iter().map(|a| a["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["reset-password", "refunds"]);
}

#[test]
fn a_site_without_articles_offers_a_person() {
    let site = edge().new_site(&[crate::support::ORIGIN]);
    let token = site.session();
    let messages = site.send(&token, "q", "anything at all").expect_ok(200)["messages"].clone();
    assert_eq!(messages[1]["bot"]["reason"], "no_knowledge_base");
}

/// 2,000 articles × 10 phrasings (near the upload limits): seconds to index.
/// The largest upload a site may make (2,000 articles, 10 phrasings each) over a skewed,
/// natural-looking vocabulary: big enough that indexing it takes a few seconds at the edge.
fn big_knowledge_base() -> String {
    const SYLLABLES: &[&str] = &[
        "ka", "lo", "mi", "ter", "vin", "sol", "par", "ex", "on", "ra", "del", "qui", "bro", "fen", "tas", "ul",
    ];
    // A deterministic generator (xorshift64*), so every run uploads the same articles.
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = move |n: usize| {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        (state.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 33) as usize % n
    };
    let words: Vec<String> = (0..4000)
        .map(|_| (0..2 + next(3)).map(|_| SYLLABLES[next(SYLLABLES.len())]).collect())
        .collect();
    (0..2000)
        .map(|i| {
            let topic: Vec<usize> = (0..8).map(|_| next(words.len())).collect();
            let mut sentence = |length: usize| {
                (0..length)
                    .map(|_| {
                        // Mostly the article's own words, some common ones (low ids are frequent).
                        if next(3) == 0 {
                            let bound = 1 + next(words.len());
                            words[next(bound)].clone()
                        } else {
                            words[topic[next(topic.len())]].clone()
                        }
                    })
                    .collect::<Vec<_>>()
                    .join(" ")
            };
            let title = sentence(5);
            let body = (0..4).map(|_| sentence(10)).collect::<Vec<_>>().join(". ");
            let questions: Vec<String> = (0..10).map(|_| sentence(7)).collect();
            serde_json::json!({ "id": format!("a{i}"), "title": title, "body": body, "questions": questions })
                .to_string()
                + "\n"
        })
        .collect()
}

#[test]
fn questions_are_answered_from_the_current_index_while_a_new_one_builds() {
    let site = site_with_articles();
    let token = site.session();
    let big = big_knowledge_base();
    let uploader = {
        let site = site.clone();
        std::thread::spawn(move || {
            let reply = site.load_articles(&big);
            (reply, Instant::now())
        })
    };
    std::thread::sleep(Duration::from_millis(300));
    let asked = Instant::now();
    let messages = site.send(&token, "q1", "I forgot my password").expect_ok(200)["messages"].clone();
    let answered = Instant::now();
    let (reply, uploaded) = uploader.join().unwrap();
    reply.expect_ok(200);
    assert!(
        answered < uploaded,
        "the question waited for the upload: asked {:?} before the upload finished, answered {:?} after asking",
        uploaded - asked,
        answered - asked
    );
    // Answered from the articles the site had when it was asked.
    assert_eq!(messages[1]["bot"]["article"]["id"], "reset-password");
    // Afterwards the new articles answer.
    let messages = site.send(&token, "q2", "I forgot my password").expect_ok(200)["messages"].clone();
    assert_ne!(messages[1]["bot"]["article"]["id"], "reset-password");
}

#[test]
fn an_upload_overtaken_by_a_newer_one_is_refused_and_the_newer_one_kept() {
    let site = edge().new_site(&[crate::support::ORIGIN]);
    let older = {
        let site = site.clone();
        let big = big_knowledge_base();
        std::thread::spawn(move || site.load_articles(&big))
    };
    // Once the big upload is being indexed (its body parsed and passed on), a small one.
    std::thread::sleep(Duration::from_millis(1000));
    site.load_articles(ARTICLES).expect_ok(200);
    older.join().unwrap().expect_error(409, "superseded");

    let auth = format!("Bearer {}", site.admin_key);
    let reply = edge().request("GET", &site.path("/articles"), &[("Authorization", &auth)], None);
    assert_eq!(
        reply.expect_ok(200).as_array().unwrap().len(),
        2,
        "the newer, small upload is kept"
    );
    let token = site.session();
    let messages = site.send(&token, "q", "I forgot my password").expect_ok(200)["messages"].clone();
    assert_eq!(messages[1]["bot"]["article"]["id"], "reset-password");
}

#[test]
fn widget_settings_are_checked_and_served_to_allowed_pages() {
    let site = site_with_articles();
    let patch = |body: serde_json::Value| edge().json("PATCH", &site.path(""), Some(&site.admin_key), &body);
    let hours =
        json!({"time_zone": "Europe/Berlin", "weekly": [{"days": ["mon", "tue"], "from": "09:00", "to": "17:30"}]});
    // Each bad setting is refused by name, and refusals change nothing.
    for (body, field) in [
        (json!({"widget": {"color": "red"}}), "widget.color"),
        (json!({"widget": {"locale": "pt"}}), "widget.locale"),
        (json!({"widget": {"colour": "#fff"}}), "widget"),
        (json!({"widget": "dark"}), "widget"),
        (
            json!({"widget": {"pre_chat": [{"name": "Order No", "label": "Order"}]}}),
            "widget.pre_chat[0].name",
        ),
        (
            json!({"widget": {"hours": {"time_zone": "Mars/Olympus_Mons", "weekly": hours["weekly"]}}}),
            "widget.hours.time_zone",
        ),
        (
            json!({"widget": {"hours": {"time_zone": "UTC", "weekly": [{"days": ["mon"], "from": "18:00", "to": "09:00"}]}}}),
            "widget.hours.weekly[0]",
        ),
    ] {
        let reply = patch(body.clone());
        reply.expect_error(400, "invalid_field");
        assert_eq!(reply.body["error"]["field"], field, "{body}");
    }
    let public = |origin: &str| edge().request("GET", &site.path("/widget"), &[("Origin", origin)], None);
    let untouched = public(ORIGIN);
    assert_eq!(
        untouched.expect_ok(200)["widget"],
        json!({"position": "right", "launcher_icon": "chat"})
    );
    assert_eq!(untouched.body["accent"], "#4338ca");
    assert_eq!(untouched.body["locale"], "en");
    assert!(
        untouched.body.get("strings").is_none(),
        "English is built into the widget"
    );
    // The visitor's first language the widget speaks, with its words and their date format.
    let for_visitor = |languages: &str| {
        let path = site.path(&format!("/widget?lang={languages}"));
        edge().request("GET", &path, &[("Origin", ORIGIN)], None)
    };
    let arabic = for_visitor("pt-BR,ar-EG,en");
    let body = arabic.expect_ok(200);
    assert_eq!(
        (body["locale"].as_str(), body["format_tag"].as_str()),
        (Some("ar"), Some("ar-EG"))
    );
    let strings = body["strings"].as_array().unwrap();
    assert_eq!(strings.len(), shared::i18n::Text::ALL.len());
    assert!(strings.iter().all(|s| s.as_str().is_some_and(|s| !s.is_empty())));

    let settings = json!({
        "locale": "de", "color": "#f59e0b", "position": "left", "launcher_icon": "help",
        "greeting": "Hallo! <b>Wie</b> können wir helfen?",
        "pre_chat": [{"name": "order_id", "label": "Bestellnummer", "required": true}, {"name": "email", "label": "E-Mail", "type": "email"}],
        "hours": hours,
    });
    let view = patch(json!({ "widget": settings }));
    assert_eq!(view.expect_ok(200)["widget"]["greeting"], settings["greeting"]);
    // What the loader reads: public (no key), for allowed pages, cacheable for a minute.
    let served = public(ORIGIN);
    let body = served.expect_ok(200);
    assert_eq!(body["site"], site.id.as_str());
    assert_eq!(body["widget"]["pre_chat"][1]["type"], "email");
    assert_eq!(body["widget"]["hours"]["time_zone"], "Europe/Berlin");
    assert_eq!(body["accent"], "#f59e0b");
    assert_eq!(body["on_accent"], "#000000", "black reads better than white on amber");
    assert!(body["launcher_path"].as_str().unwrap().starts_with("M12 2a10"));
    assert_eq!(served.header("cache-control"), Some("public, max-age=60"));
    // The site's language wins over the visitor's; dates in the visitor's region of it.
    let german = for_visitor("fr-CA,de-AT");
    let body = german.expect_ok(200);
    assert_eq!(
        (body["locale"].as_str(), body["format_tag"].as_str()),
        (Some("de"), Some("de-AT"))
    );
    assert_eq!(body["strings"][shared::i18n::Text::Send as usize], "Senden");
    public("https://elsewhere.example.com").expect_error(403, "origin_not_allowed");
    edge()
        .request("GET", "/v1/sites/no-such-site-here/widget", &[("Origin", ORIGIN)], None)
        .expect_error(404, "unknown_site");
    // Other updates leave the widget settings alone; `{}` resets them.
    patch(json!({"name": "Renamed"})).expect_ok(200);
    assert_eq!(public(ORIGIN).expect_ok(200)["widget"]["locale"], "de");
    patch(json!({"widget": {}})).expect_ok(200);
    assert_eq!(
        public(ORIGIN).expect_ok(200)["widget"],
        json!({"position": "right", "launcher_icon": "chat"})
    );
}
