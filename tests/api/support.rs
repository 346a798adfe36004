//! The test harness: a client for the edge that `scripts/test` started (its address and keys come
//! from the environment), and helpers that set up a fresh site per test so tests never share
//! state and can run in parallel.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value;
use ureq::Agent;

pub struct Edge {
    pub base: String,
    pub operator_key: String,
    pub session_secret: String,
    /// The local Postmark stand-in the edge sends email through (scripts/mail-sink.mjs).
    pub mail_url: String,
    agent: Agent,
}

/// What came back: status, headers (lowercase names) and the body parsed as JSON (`Null` if it
/// was not JSON).
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Value,
    /// The body as received (TwiML, HTML).
    pub text: String,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The error code of an error envelope.
    pub fn code(&self) -> &str {
        self.body["error"]["code"]
            .as_str()
            .unwrap_or_else(|| panic!("not an error envelope: {self:?}"))
    }

    #[track_caller]
    pub fn expect_error(&self, status: u16, code: &str) -> &Reply {
        assert_eq!((self.status, self.code()), (status, code), "{self:#?}");
        let message = self.body["error"]["message"].as_str().unwrap_or_default();
        assert!(message.len() > 10, "error messages say what was wrong: {self:#?}");
        self
    }

    #[track_caller]
    pub fn expect_ok(&self, status: u16) -> &Value {
        assert_eq!(self.status, status, "{self:#?}");
        &self.body
    }
}

pub fn edge() -> &'static Edge {
    static EDGE: OnceLock<Edge> = OnceLock::new();
    EDGE.get_or_init(|| {
        let var = |name: &str| {
            std::env::var(name).unwrap_or_else(|_| {
                panic!("{name} is not set: these tests talk to a running edge; run them with scripts/test, which starts one")
            })
        };
        let agent = Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(30)))
            .build()
            .into();
        Edge {
            base: var("THREADLINE_URL"),
            operator_key: var("THREADLINE_OPERATOR_KEY"),
            session_secret: var("THREADLINE_SESSION_SECRET"),
            mail_url: var("THREADLINE_MAIL_URL"),
            agent,
        }
    })
}

impl Edge {
    pub fn request(&self, method: &str, path: &str, headers: &[(&str, &str)], body: Option<&[u8]>) -> Reply {
        let mut builder = ureq::http::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base));
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        let request = builder
            .body(body.map(<[u8]>::to_vec).unwrap_or_default())
            .expect("request builds");
        let mut response = self
            .agent
            .run(request)
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .map(|(n, v)| (n.as_str().to_owned(), v.to_str().unwrap_or_default().to_owned()))
            .collect();
        let text = response.body_mut().read_to_string().unwrap_or_default();
        Reply {
            status,
            headers,
            body: serde_json::from_str(&text).unwrap_or(Value::Null),
            text,
        }
    }

    /// A `GET` whose body is bytes (up to 16 MiB), for raw downloads; panics unless 200.
    pub fn request_bytes(&self, method: &str, path: &str, headers: &[(&str, &str)]) -> Vec<u8> {
        let mut builder = ureq::http::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base));
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        let request = builder.body(Vec::new()).expect("request builds");
        let mut response = self
            .agent
            .run(request)
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        assert_eq!(response.status().as_u16(), 200, "{method} {path}");
        response
            .body_mut()
            .with_config()
            .limit(16 * 1024 * 1024)
            .read_to_vec()
            .expect("body")
    }

    /// The emails the mail sink accepted for `to`, oldest first.
    pub fn mail_to(&self, to: &str) -> Vec<Value> {
        let url = format!("{}/_sink/messages?to={to}", self.mail_url);
        let mut response = self.agent.get(&url).call().expect("mail sink answers");
        let text = response.body_mut().read_to_string().expect("mail sink body");
        serde_json::from_str::<Vec<Value>>(&text).expect("mail sink JSON")
    }

    /// The SMS the provider stand-in accepted for `to` (E.164), oldest first.
    pub fn sms_to(&self, to: &str) -> Vec<Value> {
        let url = format!("{}/_sink/sms?to={}", self.mail_url, to.replace('+', "%2B"));
        let mut response = self.agent.get(&url).call().expect("sink answers");
        let text = response.body_mut().read_to_string().expect("sink body");
        serde_json::from_str::<Vec<Value>>(&text).expect("sink JSON")
    }

    /// The WhatsApp messages the provider stand-in accepted for `to` (digits), oldest first.
    pub fn whatsapp_to(&self, to: &str) -> Vec<Value> {
        let url = format!("{}/_sink/whatsapp?to={}", self.mail_url, to.trim_start_matches('+'));
        let mut response = self.agent.get(&url).call().expect("sink answers");
        let text = response.body_mut().read_to_string().expect("sink body");
        serde_json::from_str::<Vec<Value>>(&text).expect("sink JSON")
    }

    /// The Telegram messages the provider stand-in accepted for `chat_id`, oldest first.
    pub fn telegram_to(&self, chat_id: i64) -> Vec<Value> {
        let url = format!("{}/_sink/telegram?chat_id={chat_id}", self.mail_url);
        let mut response = self.agent.get(&url).call().expect("sink answers");
        let text = response.body_mut().read_to_string().expect("sink body");
        serde_json::from_str::<Vec<Value>>(&text).expect("sink JSON")
    }

    /// The Messenger/Instagram messages the Send API stand-in accepted for `to`, oldest first.
    pub fn page_messages_to(&self, to: &str) -> Vec<Value> {
        let url = format!("{}/_sink/page?to={to}", self.mail_url);
        let mut response = self.agent.get(&url).call().expect("sink answers");
        let text = response.body_mut().read_to_string().expect("sink body");
        serde_json::from_str::<Vec<Value>>(&text).expect("sink JSON")
    }

    /// Makes the provider stand-ins fail the next `count` SMS or WhatsApp sends to `to` with
    /// HTTP `status`.
    pub fn fail_sends_to(&self, to: &str, count: u32, status: u16) {
        let url = format!(
            "{}/_sink/fail?to={}&count={count}&status={status}",
            self.mail_url,
            to.replace('+', "%2B")
        );
        self.agent.post(&url).send_empty().expect("sink answers");
    }

    /// Reads what a provider stand-in (`/_sink/…` on the mail sink) received, as JSON.
    pub fn stand_in_get(&self, path: &str) -> Value {
        let url = format!("{}/_sink/{path}", self.mail_url);
        let mut response = self.agent.get(&url).call().expect("stand-in answers");
        serde_json::from_str(&response.body_mut().read_to_string().expect("stand-in body")).expect("stand-in JSON")
    }

    /// Controls a provider stand-in (`/_sink/…` on the mail sink): `POST`s `body` as JSON, if
    /// any; answers its JSON.
    pub fn stand_in_post(&self, path: &str, body: Option<&Value>) -> Value {
        let url = format!("{}/_sink/{path}", self.mail_url);
        let mut response = match body {
            Some(body) => self.agent.post(&url).send_json(body),
            None => self.agent.post(&url).send_empty(),
        }
        .expect("stand-in answers");
        serde_json::from_str(&response.body_mut().read_to_string().expect("stand-in body")).expect("stand-in JSON")
    }

    /// Makes the mail sink fail the next `count` sends, as the provider would during an outage.
    pub fn fail_mail(&self, count: u32) {
        let url = format!("{}/_sink/fail?count={count}", self.mail_url);
        self.agent.post(&url).send_empty().expect("mail sink answers");
    }

    pub fn json(&self, method: &str, path: &str, auth: Option<&str>, body: &Value) -> Reply {
        let bearer = auth.map(|token| format!("Bearer {token}"));
        let mut headers = vec![("Content-Type", "application/json")];
        if let Some(bearer) = &bearer {
            headers.push(("Authorization", bearer));
        }
        self.request(method, path, &headers, Some(body.to_string().as_bytes()))
    }

    /// Creates a new site with a unique id, allowed on `origins`.
    pub fn new_site(&self, origins: &[&str]) -> Site {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos() % 1_000_000_000_000;
        let id = format!(
            "t{}-{}-{nanos}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let reply = self.json(
            "POST",
            "/v1/sites",
            Some(&self.operator_key),
            &serde_json::json!({ "id": id, "name": "Test site", "allowed_origins": origins }),
        );
        let body = reply.expect_ok(201);
        Site {
            id,
            admin_key: body["admin_key"].as_str().expect("admin_key").to_owned(),
        }
    }
}

#[derive(Clone)]
pub struct Site {
    pub id: String,
    pub admin_key: String,
}

/// A small knowledge base: two clear topics, so "answer" and "no answer" are both reachable.
pub const ARTICLES: &str = concat!(
    r#"{"id":"reset-password","title":"Reset your password","body":"Choose Forgot password on the sign-in page; the link works for 60 minutes.","questions":["I forgot my password","how do I reset my password"],"url":"https://help.example.com/reset"}"#,
    "\n",
    r#"{"id":"refunds","title":"Refund policy","body":"Refunds go back to the original card within 5 to 10 business days.","questions":["can I get a refund","money back"]}"#,
    "\n",
);

pub const ORIGIN: &str = "https://shop.example.com";

impl Site {
    pub fn path(&self, rest: &str) -> String {
        format!("/v1/sites/{}{rest}", self.id)
    }

    /// The site's inbox backlog (`GET /channels`): channel messages acknowledged to their
    /// providers and not yet in their conversations.
    pub fn inbox(&self) -> Value {
        let auth = format!("Bearer {}", self.admin_key);
        let reply = edge().request("GET", &self.path("/channels"), &[("Authorization", &auth)], None);
        reply.expect_ok(200)["inbox"].clone()
    }

    /// Waits (at most 10 s) until every channel message the site acknowledged is in its
    /// conversation: a webhook's `200` means "kept", and the inbox hands it on right after.
    pub fn settle_inbox(&self) {
        let started = std::time::Instant::now();
        loop {
            let inbox = self.inbox();
            if inbox["waiting"] == 0 {
                return;
            }
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "the inbox still holds messages after 10 s: {inbox}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn load_articles(&self, jsonl: &str) -> Reply {
        let auth = format!("Bearer {}", self.admin_key);
        edge().request(
            "PUT",
            &self.path("/articles"),
            &[("Authorization", &auth), ("Content-Type", "application/x-ndjson")],
            Some(jsonl.as_bytes()),
        )
    }

    /// A new visitor session from an allowed page.
    pub fn session(&self) -> String {
        let reply = edge().request("POST", &self.path("/sessions"), &[("Origin", ORIGIN)], None);
        reply.expect_ok(201)["token"].as_str().expect("token").to_owned()
    }

    /// Renews a session token (`POST /sessions` with the token).
    pub fn renew(&self, token: &str) -> Reply {
        let auth = format!("Bearer {token}");
        edge().request(
            "POST",
            &self.path("/sessions"),
            &[("Origin", ORIGIN), ("Authorization", &auth)],
            None,
        )
    }

    pub fn send(&self, token: &str, id: &str, text: &str) -> Reply {
        edge().json(
            "POST",
            &self.path("/conversation/messages"),
            Some(token),
            &serde_json::json!({ "id": id, "text": text }),
        )
    }

    pub fn transcript(&self, token: &str) -> Vec<Value> {
        let auth = format!("Bearer {token}");
        let reply = edge().request("GET", &self.path("/conversation"), &[("Authorization", &auth)], None);
        reply.expect_ok(200)["messages"].as_array().expect("messages").clone()
    }

    /// `field` (e.g. `channel`, `text`) of each of the customer's messages, in order.
    pub fn visitor_messages(&self, token: &str, field: &str) -> Vec<String> {
        self.transcript(token)
            .iter()
            .filter(|m| m["role"] == "visitor")
            .map(|m| m[field].as_str().unwrap_or_default().to_owned())
            .collect()
    }
}

/// The conversation a visitor's session token names.
pub fn conversation_of(site: &Site, token: &str) -> String {
    let keys =
        shared::jwt::KeyRing::new(vec![shared::jwt::Key::from_secret(edge().session_secret.as_bytes())]).unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    shared::session::verify(token, &site.id, now, &keys)
        .unwrap()
        .conversation()
        .to_owned()
}

/// A site with the small knowledge base loaded, allowed on `ORIGIN`.
pub fn site_with_articles() -> Site {
    let site = edge().new_site(&[ORIGIN]);
    site.load_articles(ARTICLES).expect_ok(200);
    site
}

/// An edge of a test's own (`wrangler dev` on `port` with its own state directory), for tests
/// that crash and restart it. Started through `scripts/edge.sh`, like the shared one.
pub struct OwnEdge {
    pub edge: Edge,
    port: u16,
    state: String,
    vars: String,
    pids: Option<(u32, u32)>,
    /// One own edge at a time: two `wrangler dev`s starting together can pick the same internal
    /// port, and one of them then fails to start.
    _alone: std::sync::MutexGuard<'static, ()>,
}

static OWN_EDGES: std::sync::Mutex<()> = std::sync::Mutex::new(());

impl OwnEdge {
    /// Starts an edge with empty state; `vars` are extra `--var NAME:VALUE` arguments.
    pub fn start(port: u16, vars: &str) -> OwnEdge {
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
        let state = format!("{root}/target/test-state-{port}");
        let _ = std::fs::remove_dir_all(&state);
        let shared = edge();
        let mut own = OwnEdge {
            edge: Edge {
                base: format!("http://127.0.0.1:{port}"),
                operator_key: shared.operator_key.clone(),
                session_secret: shared.session_secret.clone(),
                mail_url: format!("http://127.0.0.1:{}", port + 10),
                agent: shared.agent.clone(),
            },
            port,
            state,
            vars: vars.to_owned(),
            pids: None,
            _alone: OWN_EDGES.lock().unwrap_or_else(std::sync::PoisonError::into_inner),
        };
        own.boot();
        own
    }

    fn boot(&mut self) {
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
        let script = format!(
            "source scripts/edge.sh && EDGE_LOG_LEVEL=log EDGE_VARS='{}' start_edge {} '{}' target/test-wrangler-{}.log && echo $EDGE_PID $MAIL_PID",
            self.vars, self.port, self.state, self.port
        );
        let output = std::process::Command::new("bash")
            .arg("-c")
            .arg(script)
            .current_dir(root)
            .stderr(std::process::Stdio::inherit())
            .output()
            .expect("bash runs");
        assert!(output.status.success(), "the edge on port {} did not start", self.port);
        let text = String::from_utf8_lossy(&output.stdout);
        let pids: Vec<u32> = text.split_whitespace().filter_map(|p| p.parse().ok()).collect();
        assert_eq!(pids.len(), 2, "start_edge printed {text:?}");
        self.pids = Some((pids[0], pids[1]));
    }

    /// Kills the edge as a crash would (SIGKILL to wrangler, workerd and the mail sink).
    pub fn crash(&mut self) {
        if let Some((edge_pid, mail_pid)) = self.pids.take() {
            let _ = std::process::Command::new("kill")
                .args(["-KILL", "--", &format!("-{edge_pid}"), &format!("-{mail_pid}")])
                .status();
            // Until the ports are free again.
            let started = std::time::Instant::now();
            while started.elapsed() < Duration::from_secs(10)
                && (std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok()
                    || std::net::TcpStream::connect(("127.0.0.1", self.port + 10)).is_ok())
            {
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }

    /// Freezes the provider stand-in (SIGSTOP): whatever the edge sends it waits for an answer.
    pub fn freeze_stand_in(&self) {
        if let Some((_, mail_pid)) = self.pids {
            let _ = std::process::Command::new("kill")
                .args(["-STOP", "--", &format!("-{mail_pid}")])
                .status();
        }
    }

    /// Starts it again on the same state directory.
    pub fn restart(&mut self) {
        self.crash();
        self.boot();
    }
}

impl Drop for OwnEdge {
    fn drop(&mut self) {
        self.crash();
    }
}

/// Calls `fetch` until it returns at least `n` items (or 10 s pass) and returns the last result:
/// for what a provider stand-in received.
pub fn poll<T>(mut fetch: impl FnMut() -> Vec<T>, n: usize) -> Vec<T> {
    let started = std::time::Instant::now();
    loop {
        let got = fetch();
        if got.len() >= n || started.elapsed() > Duration::from_secs(10) {
            return got;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}
