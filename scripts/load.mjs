// Load test on loopback (no pass/fail threshold on speed; it fails only on lost, duplicated or
// reordered messages). Bounded: it stops by itself after at most a few minutes.
//   1. V concurrent visitors (default 1,000), each on its own live WebSocket, send M messages
//      each (default 10): back to back, or with G ms of "think time" (LOAD_GAP_MS) between a
//      message's acknowledgement and the next, as people chat; every acknowledgement (the stored
//      message echoed on the socket) is timed from its send. Then every transcript is read back
//      over HTTP and checked: each message stored once, in the order sent. workerd's memory is
//      sampled throughout.
//   2. W inbound channel webhooks a second (default 100) for S seconds (default 60): Telegram
//      updates with the secret-token header, each a new message from one of 200 chats, and
//      every tenth sent again (Telegram retries), so W + W/10 posts a second. Each post is
//      acknowledged once the site's inbox keeps it; the script then follows the inbox's backlog
//      (`GET /channels`) until every message is in its conversation, and checks every chat's
//      conversation for each update stored exactly once.
// Usage: node scripts/load.mjs [visitors] [messages] [webhooks/s] [seconds]   (needs a build;
// starts its own edge on port 8794 with empty state; the site's rate limits are raised through
// the API, as a busy site would)
import { execSync, spawn } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { devVars } from "./dev-vars.mjs";
import { startWrangler } from "./own-wrangler.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const port = 8794;
const [visitors, perVisitor, hooksPerSecond, seconds] = [1000, 10, 100, 60].map((d, i) => Number(process.argv[2 + i] || d));
const gap = Number(process.env.LOAD_GAP_MS || 0);
const vars = devVars();
const percentile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
const say = (step, text) => console.log(`[load ${step}] ${text}`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
/** Resident memory of every workerd process on this machine, in MB. */
const workerdMb = () => {
  try {
    const kb = execSync("ps -C workerd -o rss=", { encoding: "utf8" }).split("\n").map(Number).filter(Boolean);
    return Math.round(kb.reduce((a, b) => a + b, 0) / 1024);
  } catch {
    return 0;
  }
};

say("1/6", "starting wrangler dev (workerd) with empty state, and the local provider stand-in");
// Bot replies to Telegram chats go to the local stand-in (scripts/mail-sink.mjs), never out.
const sinkPort = port + 10;
const sink = spawn(join(root, "node_modules/.bin/node"), [join(root, "scripts/mail-sink.mjs"), String(sinkPort), vars.EMAIL_API_TOKEN], {
  stdio: "ignore",
  env: { ...process.env, MAIL_SINK_QUIET: "1" },
});
process.on("exit", () => sink.kill());
const { base, stop } = await startWrangler(port, join(root, "target/load-state"), [`TELEGRAM_API_URL:http://127.0.0.1:${sinkPort}`]);

async function call(method, path, { token, body, type = "application/json", headers = {} } = {}) {
  const response = await fetch(`${base}${path}`, {
    method,
    headers: { ...(token ? { Authorization: `Bearer ${token}` } : {}), ...(body !== undefined ? { "Content-Type": type } : {}), ...headers },
    body: typeof body === "string" || body === undefined ? body : JSON.stringify(body),
    signal: AbortSignal.timeout(60_000),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${text.slice(0, 300)}`);
  return text ? JSON.parse(text) : null;
}

/** Runs `task(i)` for i in 0..n with at most `width` at once. */
async function pool(n, width, task) {
  let next = 0;
  const results = new Array(n);
  await Promise.all(
    Array.from({ length: Math.min(width, n) }, async () => {
      while (next < n) {
        const i = next++;
        results[i] = await task(i);
      }
    }),
  );
  return results;
}

const ARTICLES = [
  { id: "reset-password", title: "Reset your password", body: "Use Forgot password on the sign-in page; the link is valid for an hour.", questions: ["I forgot my password"] },
  { id: "refunds", title: "Refunds", body: "We refund within 30 days of purchase, to the original payment method.", questions: ["can I get my money back"] },
  { id: "shipping", title: "Shipping times", body: "Orders ship in 2 working days; delivery takes 3 to 5 more.", questions: ["when will my order arrive"] },
];
const QUESTIONS = ["I forgot my password", "can I get my money back", "when will my order arrive", "reset my password", "refund please"];

async function visitorsOverSockets(site, admin) {
  say("2/6", `creating ${visitors} sessions (50 at a time)`);
  const tokens = await pool(visitors, 50, async () => (await call("POST", `/v1/sites/${site}/sessions`)).token);
  say("3/6", `${visitors} visitors open a live socket each and send ${perVisitor} messages ${gap ? `${gap} ms after each acknowledgement` : "back to back"}`);
  const wsBase = base.replace("http", "ws");
  const sentAt = new Map();
  const rtts = [];
  let acked = 0;
  let duplicates = 0;
  let outOfOrder = 0;
  let refused = 0;
  let botReplies = 0;
  const started = performance.now();
  const deadline = started + 240_000 + perVisitor * gap * 1.5;
  let peakMb = workerdMb();
  const runs = tokens.map(
    (token, v) =>
      new Promise((resolve) => {
        const socket = new WebSocket(`${wsBase}/v1/sites/${site}/conversation/live`, ["threadline.v1", `bearer.${token}`]);
        const seen = new Set();
        let lastAcked = -1;
        let lastSeq = 0;
        const sendOne = (k) => {
          if (socket.readyState !== WebSocket.OPEN) return;
          const id = `v${v}-m${k}`;
          sentAt.set(id, performance.now());
          socket.send(JSON.stringify({ type: "send", id, text: QUESTIONS[(v + k) % QUESTIONS.length] }));
        };
        const finish = () => {
          clearTimeout(timer);
          socket.close();
          resolve();
        };
        const timer = setTimeout(finish, deadline - performance.now());
        socket.onmessage = (event) => {
          const frame = JSON.parse(event.data);
          if (frame.type === "history") {
            for (let k = 0; k < (gap ? 1 : perVisitor); k++) sendOne(k);
          } else if (frame.type === "message" && frame.message.role === "visitor") {
            const { id, seq } = frame.message;
            if (seen.has(id)) {
              duplicates++;
              return;
            }
            seen.add(id);
            acked++;
            rtts.push(performance.now() - sentAt.get(id));
            const k = Number(id.split("-m")[1]);
            if (k !== lastAcked + 1 || seq <= lastSeq) outOfOrder++;
            lastAcked = k;
            lastSeq = seq;
            if (seen.size === perVisitor) setTimeout(finish, 50);
            else if (gap) setTimeout(() => sendOne(k + 1), gap);
          } else if (frame.type === "message" && frame.message.role === "bot") {
            botReplies++;
          } else if (frame.type === "error") {
            refused++;
            console.error(`[load] visitor ${v}: ${JSON.stringify(frame.error)}`);
          }
        };
        socket.onerror = () => finish();
      }),
  );
  let done = 0;
  const progress = setInterval(() => {
    const mb = workerdMb();
    peakMb = Math.max(peakMb, mb);
    say("3/6", `${acked}/${visitors * perVisitor} acknowledged; workerd ${mb} MB`);
  }, 5000);
  await Promise.all(runs.map((r) => r.then(() => done++)));
  clearInterval(progress);
  const elapsed = (performance.now() - started) / 1000;
  rtts.sort((a, b) => a - b);

  say("4/6", `reading back ${visitors} transcripts over HTTP`);
  let stored = 0;
  let storedTwice = 0;
  let storedOutOfOrder = 0;
  await pool(visitors, 50, async (v) => {
    const { messages } = await call("GET", `/v1/sites/${site}/conversation`, { token: tokens[v] });
    const mine = messages.filter((m) => m.role === "visitor").map((m) => m.id);
    stored += new Set(mine).size;
    storedTwice += mine.length - new Set(mine).size;
    const expected = Array.from({ length: perVisitor }, (_, k) => `v${v}-m${k}`);
    if (mine.join() !== expected.slice(0, mine.length).join()) storedOutOfOrder++;
  });
  const sent = visitors * perVisitor;
  return {
    sent,
    acked,
    lost: sent - stored,
    duplicates: duplicates + storedTwice,
    outOfOrder: outOfOrder + storedOutOfOrder,
    refused,
    botReplies,
    p50: percentile(rtts, 50),
    p99: percentile(rtts, 99),
    perSecond: acked / elapsed,
    elapsed,
    peakMb,
  };
}

async function inboundWebhooks(site, admin) {
  const secret = "load-secret-token-0123456789";
  await call("PUT", `/v1/sites/${site}/channels/telegram`, {
    token: admin,
    body: { bot_token: "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw0", secret_token: secret, username: "load_bot" },
  });
  const chats = 200;
  const total = hooksPerSecond * seconds;
  say("5/6", `${total} Telegram webhooks at ${hooksPerSecond}/s for ${seconds} s (every tenth sent twice, as Telegram retries)`);
  const latencies = [];
  let failed = 0;
  let posted = 0;
  const post = async (n) => {
    const chat = 900_000 + (n % chats);
    const update = {
      update_id: 10_000 + n,
      message: { message_id: n + 1, date: Math.floor(Date.now() / 1000), chat: { id: chat, type: "private" }, from: { id: chat, is_bot: false, first_name: "Load" }, text: `update ${n}` },
    };
    const started = performance.now();
    const response = await fetch(`${base}/v1/sites/${site}/inbound/telegram`, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": secret },
      body: JSON.stringify(update),
      // Bounded: an answer that never comes counts as a failure, it does not hang the run.
      signal: AbortSignal.timeout(60_000),
    }).catch(() => null);
    if (!response || !response.ok) failed++;
    else latencies.push(performance.now() - started);
    await response?.arrayBuffer().catch(() => {});
    posted++;
  };
  const inFlight = [];
  const started = performance.now();
  for (let n = 0; n < total; n++) {
    const due = started + (n * 1000) / hooksPerSecond;
    const wait = due - performance.now();
    if (wait > 0) await sleep(wait);
    inFlight.push(post(n));
    if (n % 10 === 9) inFlight.push(post(n));
    if ((n + 1) % (hooksPerSecond * 10) === 0) say("5/6", `${n + 1}/${total} sent, ${posted} answered`);
  }
  await Promise.all(inFlight);
  const elapsed = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  // Acknowledged means kept in the site's inbox; wait (bounded) until the inbox has handed
  // every message to its conversation.
  let inbox = { waiting: 0 };
  for (let polls = 0; polls < 600; polls++) {
    ({ inbox } = await call("GET", `/v1/sites/${site}/channels`, { token: admin }));
    if (inbox.waiting === 0) break;
    if (polls % 5 === 0) say("6/6", `${inbox.waiting} messages still in the inbox (${inbox.retrying} being retried)`);
    await sleep(2000);
  }
  const drained = (performance.now() - started) / 1000;
  say("6/6", `checking that each of the ${total} updates is stored once`);
  let twice = 0;
  const seen = new Set();
  await pool(chats, 20, async (c) => {
    const { profiles } = await call("GET", `/v1/sites/${site}/profiles?identity=telegram:${900_000 + c}`, { token: admin });
    for (const conversation of profiles[0]?.conversations ?? []) {
      const { messages } = await call("GET", `/v1/sites/${site}/conversations/${conversation}`, { token: admin });
      for (const m of messages.filter((m) => /^update \d+$/.test(m.text))) {
        if (seen.has(m.text)) twice++;
        else seen.add(m.text);
      }
    }
  });
  const stored = seen.size;
  return { total, posts: posted, failed, stored, twice, p50: percentile(latencies, 50), p99: percentile(latencies, 99), elapsed, drained, left: inbox.waiting };
}

try {
  const site = "load";
  const { admin_key: admin } = await call("POST", "/v1/sites", { token: vars.OPERATOR_KEY, body: { id: site, name: "Load", allowed_origins: [] } });
  await call("PUT", `/v1/sites/${site}/articles`, { token: admin, body: ARTICLES.map((a) => JSON.stringify(a)).join("\n"), type: "application/x-ndjson" });
  const high = { burst: 1_000_000, per_hour: 10_000_000 };
  await call("PATCH", `/v1/sites/${site}`, {
    token: admin,
    // Every visitor is on 127.0.0.1 here, and each Telegram chat below sends 30 messages a
    // minute: as busy as a large site, which raises its limits the same way.
    body: { rate_limits: { session_messages: high, ip_messages: high, site_messages: high, ip_sessions: high, site_sessions: high } },
  });
  const ws = await visitorsOverSockets(site, admin);
  console.log(
    `[load] sockets: ${visitors} visitors x ${perVisitor} messages = ${ws.sent} sent, ${ws.acked} acknowledged, ${ws.lost} lost, ${ws.duplicates} duplicated, ${ws.outOfOrder} out of order, ${ws.refused} refused; ${ws.botReplies} bot replies; round trip p50 ${ws.p50.toFixed(1)} ms, p99 ${ws.p99.toFixed(1)} ms; ${ws.perSecond.toFixed(0)} messages/s over ${ws.elapsed.toFixed(1)} s${gap ? ` (${gap} ms think time)` : ""}; workerd peak ${ws.peakMb} MB`,
  );
  const hooks = await inboundWebhooks(site, admin);
  console.log(
    `[load] webhooks: ${hooks.total} updates (${hooks.posts} posts with the retries) in ${hooks.elapsed.toFixed(1)} s, ${hooks.failed} failed; acknowledged p50 ${hooks.p50?.toFixed(1)} ms, p99 ${hooks.p99?.toFixed(1)} ms; all in their conversations ${hooks.drained.toFixed(1)} s after the first (${hooks.left} left in the inbox); stored ${hooks.stored}/${hooks.total}, ${hooks.twice} twice`,
  );
  if (ws.lost || ws.duplicates || ws.outOfOrder || hooks.stored !== hooks.total || hooks.twice) process.exitCode = 1;
} catch (error) {
  console.error(error);
  process.exitCode = 1;
} finally {
  stop();
}
