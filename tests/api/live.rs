//! The live WebSocket (hibernation API in the conversation's Durable Object): history on
//! connect, replies pushed to every open tab, refusals as error frames, and handshakes refused
//! with readable errors.

use std::net::TcpStream;
use std::time::Duration;

use serde_json::{Value, json};
use tungstenite::client::IntoClientRequest;
use tungstenite::stream::MaybeTlsStream;
use tungstenite::{Message, WebSocket};

use crate::support::{ORIGIN, Site, edge, site_with_articles};

type Socket = WebSocket<MaybeTlsStream<TcpStream>>;

/// Opens the live socket, or returns the HTTP status the handshake was refused with.
pub fn connect(site: &Site, token: Option<&str>, after: Option<u64>) -> Result<Socket, u16> {
    connect_to(&edge().base, site, token, after)
}

/// [`connect`] to the edge at `base`.
pub fn connect_to(base: &str, site: &Site, token: Option<&str>, after: Option<u64>) -> Result<Socket, u16> {
    let query = after.map(|seq| format!("?after={seq}")).unwrap_or_default();
    let url = format!(
        "{}{}{query}",
        base.replacen("http", "ws", 1),
        site.path("/conversation/live")
    );
    let mut request = url.into_client_request().unwrap();
    let protocols = match token {
        Some(token) => format!("threadline.v1, bearer.{token}"),
        None => "threadline.v1".to_owned(),
    };
    request
        .headers_mut()
        .insert("Sec-WebSocket-Protocol", protocols.parse().unwrap());
    request.headers_mut().insert("Origin", ORIGIN.parse().unwrap());
    match tungstenite::connect(request) {
        Ok((mut socket, response)) => {
            assert_eq!(
                response.headers().get("sec-websocket-protocol").unwrap(),
                "threadline.v1"
            );
            if let MaybeTlsStream::Plain(stream) = socket.get_mut() {
                stream.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
            }
            Ok(socket)
        }
        Err(tungstenite::Error::Http(response)) => Err(response.status().as_u16()),
        Err(other) => panic!("websocket connect failed: {other}"),
    }
}

pub fn next(socket: &mut Socket) -> Value {
    loop {
        match socket.read().expect("a frame within 15 s") {
            Message::Text(text) => return serde_json::from_str(&text).unwrap(),
            Message::Ping(_) | Message::Pong(_) => continue,
            other => panic!("unexpected frame {other:?}"),
        }
    }
}

pub fn send(socket: &mut Socket, frame: Value) {
    socket.send(Message::text(frame.to_string())).unwrap();
}

#[test]
fn history_then_live_replies_to_every_tab() {
    let site = site_with_articles();
    let token = site.session();
    site.send(&token, "before", "can I get a refund").expect_ok(200);

    let mut tab1 = connect(&site, Some(&token), None).unwrap();
    let history = next(&mut tab1);
    assert_eq!(history["type"], "history");
    assert_eq!(history["messages"].as_array().unwrap().len(), 2);
    let mut tab2 = connect(&site, Some(&token), Some(2)).unwrap();
    let history = next(&mut tab2);
    assert!(
        history["messages"].as_array().unwrap().is_empty(),
        "after=2 skips what tab 2 already has"
    );

    send(
        &mut tab1,
        json!({ "type": "send", "id": "live-1", "text": "I forgot my password" }),
    );
    for tab in [&mut tab1, &mut tab2] {
        let echo = next(tab);
        assert_eq!(
            (echo["type"].as_str(), echo["message"]["id"].as_str()),
            (Some("message"), Some("live-1"))
        );
        let reply = next(tab);
        assert_eq!(reply["message"]["role"], "bot");
        assert_eq!(reply["message"]["bot"]["article"]["id"], "reset-password");
        assert_eq!(reply["message"]["seq"], 4);
    }

    // A resend of the same id (a reconnecting widget) is answered from storage, not stored again.
    send(
        &mut tab1,
        json!({ "type": "send", "id": "live-1", "text": "I forgot my password" }),
    );
    assert_eq!(next(&mut tab1)["message"]["seq"], 3);
    assert_eq!(next(&mut tab1)["message"]["seq"], 4);
    assert_eq!(site.transcript(&token).len(), 4);
}

#[test]
fn bad_frames_get_error_frames_and_change_nothing() {
    let site = site_with_articles();
    let token = site.session();
    let mut socket = connect(&site, Some(&token), None).unwrap();
    next(&mut socket);

    socket.send(Message::text("{not json")).unwrap();
    let error = next(&mut socket);
    assert_eq!(
        (error["type"].as_str(), error["error"]["code"].as_str()),
        (Some("error"), Some("malformed_json"))
    );

    send(
        &mut socket,
        json!({ "type": "send", "id": "too-big", "text": "x".repeat(shared::limits::MAX_MESSAGE_CHARS + 1) }),
    );
    let error = next(&mut socket);
    assert_eq!(error["error"]["code"], "payload_too_large");
    assert_eq!(error["reply_to"], "too-big");

    send(&mut socket, json!({ "type": "send", "id": "ok", "text": 5 }));
    let error = next(&mut socket);
    assert_eq!(
        (error["error"]["code"].as_str(), error["error"]["field"].as_str()),
        (Some("invalid_field"), Some("text"))
    );

    assert!(site.transcript(&token).is_empty());
}

/// Sends a WebSocket handshake as plain HTTP, so the refusal's JSON body can be read (WebSocket
/// clients, browsers included, do not reliably expose it).
fn refused_handshake(site: &Site, token: Option<&str>) -> crate::support::Reply {
    let protocols = match token {
        Some(token) => format!("threadline.v1, bearer.{token}"),
        None => "threadline.v1".to_owned(),
    };
    edge().request(
        "GET",
        &site.path("/conversation/live"),
        &[
            ("Upgrade", "websocket"),
            ("Connection", "Upgrade"),
            ("Sec-WebSocket-Version", "13"),
            ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
            ("Sec-WebSocket-Protocol", &protocols),
            ("Origin", ORIGIN),
        ],
        None,
    )
}

#[test]
fn handshakes_without_a_good_token_are_refused_readably() {
    let site = site_with_articles();
    let other = site_with_articles();
    // A real WebSocket client sees the refusal's status...
    assert_eq!(connect(&site, None, None).map(|_| ()).unwrap_err(), 401);
    assert_eq!(
        connect(&site, Some(&other.session()), None).map(|_| ()).unwrap_err(),
        401
    );
    // ...and the body says why.
    refused_handshake(&site, None).expect_error(401, "missing_token");
    refused_handshake(&site, Some(&other.session())).expect_error(401, "token_wrong_site");
    refused_handshake(&site, Some("not.a.token")).expect_error(401, "invalid_token");

    let token = site.session();
    let auth = format!("Bearer {token}");
    edge()
        .request(
            "GET",
            &site.path("/conversation/live"),
            &[("Authorization", &auth)],
            None,
        )
        .expect_error(426, "upgrade_required");
}

/// The ids of the visitor's own messages in a list of messages, in order.
fn visitor_ids(messages: &Value) -> Vec<String> {
    messages
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["role"] == "visitor")
        .map(|m| m["id"].as_str().unwrap().to_owned())
        .collect()
}

/// A new site on `edge` and a visitor's session token on it.
fn visitor_on(edge: &crate::support::Edge) -> (Site, String) {
    let site = edge.new_site(&[ORIGIN]);
    let session = edge.request("POST", &site.path("/sessions"), &[("Origin", ORIGIN)], None);
    let token = session.expect_ok(201)["token"].as_str().unwrap().to_owned();
    (site, token)
}

/// The ids of the visitor's messages `edge` has stored, in order.
fn stored_ids(edge: &crate::support::Edge, site: &Site, token: &str) -> Vec<String> {
    let auth = format!("Bearer {token}");
    let transcript = edge.request(
        "GET",
        &site.path("/conversation"),
        &[("Origin", ORIGIN), ("Authorization", &auth)],
        None,
    );
    visitor_ids(&transcript.expect_ok(200)["messages"])
}

/// The next acknowledgement of one of the visitor's own messages: its id.
fn next_ack(socket: &mut Socket) -> String {
    loop {
        let frame = next(socket);
        if frame["type"] == "message" && frame["message"]["role"] == "visitor" {
            return frame["message"]["id"].as_str().unwrap().to_owned();
        }
    }
}

#[test]
fn acknowledged_messages_survive_the_edge_being_killed_mid_conversation() {
    let mut own = crate::support::OwnEdge::start(8796, "");
    let (site, token) = visitor_on(&own.edge);
    let mut socket = connect_to(&own.edge.base, &site, Some(&token), None).unwrap();
    assert_eq!(next(&mut socket)["type"], "history");
    let mut acknowledged = Vec::new();
    for i in 0..6 {
        let id = format!("m{i}");
        send(
            &mut socket,
            json!({ "type": "send", "id": id, "text": format!("message {i}") }),
        );
        assert_eq!(next_ack(&mut socket), id);
        acknowledged.push(id);
    }
    // One more goes out, and the edge dies (SIGKILL) before the client hears back.
    send(&mut socket, json!({ "type": "send", "id": "m6", "text": "message 6" }));
    own.crash();
    own.restart();

    // The client reconnects and sends what it has no acknowledgement for again.
    let mut socket = connect_to(&own.edge.base, &site, Some(&token), None).unwrap();
    let history = next(&mut socket);
    let stored = visitor_ids(&history["messages"]);
    assert_eq!(stored[..6], acknowledged[..], "every acknowledged message, in order");
    send(&mut socket, json!({ "type": "send", "id": "m6", "text": "message 6" }));
    assert_eq!(next_ack(&mut socket), "m6");
    let ids = stored_ids(&own.edge, &site, &token);
    assert_eq!(
        ids,
        ["m0", "m1", "m2", "m3", "m4", "m5", "m6"],
        "the resend is stored once"
    );
}

/// How many times the edge on `port` logged a conversation object waking from hibernation.
fn wakes(port: u16) -> usize {
    let log = format!("{}/../target/test-wrangler-{port}.log", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .matches("woke from hibernation")
        .count()
}

#[test]
fn the_conversation_carries_on_after_its_object_is_evicted_with_the_socket_open() {
    // workerd evicts an idle Durable Object after 10 s; sockets accepted through the
    // hibernation API stay connected to the client meanwhile.
    let port = 8797;
    let own = crate::support::OwnEdge::start(port, "");
    let (site, token) = visitor_on(&own.edge);
    let mut socket = connect_to(&own.edge.base, &site, Some(&token), None).unwrap();
    assert_eq!(next(&mut socket)["type"], "history");
    send(
        &mut socket,
        json!({ "type": "send", "id": "m1", "text": "Before the nap" }),
    );
    assert_eq!(next_ack(&mut socket), "m1");
    assert_eq!(wakes(port), 0);

    // Idle past the eviction timeout, then the same socket carries on.
    std::thread::sleep(Duration::from_secs(16));
    send(
        &mut socket,
        json!({ "type": "send", "id": "m2", "text": "After the nap" }),
    );
    assert_eq!(
        next_ack(&mut socket),
        "m2",
        "the socket opened before the eviction still works"
    );
    assert_eq!(wakes(port), 1, "the object was evicted and woke for the message");

    // Evicted again; a person's reply through the API wakes it and reaches the open socket.
    std::thread::sleep(Duration::from_secs(16));
    let conversation = crate::support::conversation_of(&site, &token);
    own.edge
        .json(
            "POST",
            &site.path(&format!("/conversations/{conversation}/replies")),
            Some(&site.admin_key),
            &json!({ "id": "r1", "text": "Still here" }),
        )
        .expect_ok(200);
    let reply = loop {
        let frame = next(&mut socket);
        if frame["type"] == "message" && frame["message"]["role"] == "agent" {
            break frame;
        }
    };
    assert_eq!(reply["message"]["text"], "Still here");
    assert_eq!(wakes(port), 2);
    let ids = stored_ids(&own.edge, &site, &token);
    assert_eq!(ids, ["m1", "m2"], "nothing lost or doubled across the evictions");
}
