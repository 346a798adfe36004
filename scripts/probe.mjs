// Where a message's time goes, one request at a time, on a fresh edge (port 8795, Telegram
// stand-in on 8805):
//   - N Telegram updates (default 200; each until it is acknowledged, i.e. kept in the site's
//     inbox, which answers it right after), N live-socket messages each waiting for its bot reply,
//     N/10 phone calls of 10 questions each, until the spoken answer's TwiML is back, and N
//     `GET /healthz` (wrangler's local proxy alone): mean and p50 of each;
//   - with --profile, workerd's CPU profile over the socket messages, sampled through wrangler's
//     DevTools inspector (port 9229): self time per message by function (Rust names survive:
//     worker-build keeps the name section), then who calls the heaviest leaf (FOCUS=<function>,
//     default the SQL `exec`).
// Usage: node scripts/probe.mjs [requests] [--profile]
import { spawn } from "node:child_process";
import { createHmac } from "node:crypto";
import { join } from "node:path";
import { devVars } from "./dev-vars.mjs";
import { startWrangler } from "./own-wrangler.mjs";

const root = new URL("..", import.meta.url).pathname;
const n = Number(process.argv.slice(2).find((a) => /^\d+$/.test(a)) || 200);
const profiling = process.argv.includes("--profile");
const warmup = 20;
const vars = devVars();
const sink = spawn(join(root, "node_modules/.bin/node"), [join(root, "scripts/mail-sink.mjs"), "8805", vars.EMAIL_API_TOKEN], {
  stdio: "ignore",
  env: { ...process.env, MAIL_SINK_QUIET: "1" },
});
process.on("exit", () => sink.kill());
const { base, stop } = await startWrangler(8795, join(root, "target/probe-state"), ["TELEGRAM_API_URL:http://127.0.0.1:8805"]);

async function call(method, path, token, body, type = "application/json") {
  const response = await fetch(base + path, {
    method,
    headers: { ...(token ? { Authorization: `Bearer ${token}` } : {}), ...(body ? { "Content-Type": type } : {}) },
    body: typeof body === "string" ? body : body && JSON.stringify(body),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${path} ${response.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

function stats(xs) {
  xs.sort((a, b) => a - b);
  return `mean ${(xs.reduce((a, b) => a + b, 0) / xs.length).toFixed(1)} ms, p50 ${xs[Math.floor(xs.length / 2)].toFixed(1)} ms`;
}

/** A DevTools session with the worker: `send(method, params)` resolves with the result. */
async function devtools() {
  const [target] = await (await fetch("http://127.0.0.1:9229/json")).json();
  // wrangler's inspector proxy wants an Origin header.
  const socket = new WebSocket(target.webSocketDebuggerUrl, { headers: { Origin: "http://localhost" } });
  await new Promise((resolve) => (socket.onopen = resolve));
  let id = 0;
  const pending = new Map();
  socket.onmessage = (event) => {
    const message = JSON.parse(String(event.data));
    pending.get(message.id)?.(message.result);
    pending.delete(message.id);
  };
  return (method, params = {}) => new Promise((resolve) => (pending.set(++id, resolve), socket.send(JSON.stringify({ id, method, params }))));
}

/** Prints self time per message by function, and the Rust callers of `focus`. */
function report(profile, messages, focus) {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const counts = new Map();
  for (const sample of profile.samples) counts.set(sample, (counts.get(sample) || 0) + 1);
  const dt = (profile.endTime - profile.startTime) / 1000 / profile.samples.length;
  const self = new Map();
  const callers = new Map();
  let busy = 0;
  for (const [nodeId, count] of counts) {
    const frame = byId.get(nodeId).callFrame;
    const name = frame.functionName || `(${frame.url.split("/").pop()}:${frame.lineNumber})`;
    if (name === "(idle)") continue;
    self.set(name, (self.get(name) || 0) + count * dt);
    busy += count * dt;
    if (name !== focus) continue;
    const chain = [];
    for (let p = parent.get(nodeId); p && chain.length < 3; p = parent.get(p)) {
      const f = byId.get(p).callFrame.functionName;
      if (f.includes("::") && !/worker::|wasm_bindgen|js_sys|core::|alloc::|futures|closure/.test(f)) chain.push(f.replace(/::h[0-9a-f]{16}$/, ""));
    }
    const key = chain.join("  <-  ") || "(unknown)";
    callers.set(key, (callers.get(key) || 0) + count * dt);
  }
  const per = (ms) => `${(ms / messages).toFixed(3).padStart(8)} ms/msg`;
  console.log(`profile: ${(busy / messages).toFixed(2)} ms of workerd CPU a message`);
  for (const [name, ms] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 30)) console.log(`${per(ms)}  ${name.slice(0, 110)}`);
  console.log(`\n${focus} by caller:`);
  for (const [key, ms] of [...callers].sort((a, b) => b[1] - a[1]).slice(0, 15)) console.log(`${per(ms)}  ${key.slice(0, 220)}`);
}

try {
  const { admin_key: admin } = await call("POST", "/v1/sites", vars.OPERATOR_KEY, { id: "probe", name: "Probe" });
  const articles = [
    { id: "reset-password", title: "Reset your password", body: "Use Forgot password.", questions: ["I forgot my password"] },
    { id: "refunds", title: "Refunds", body: "Within 30 days.", questions: ["can I get my money back"] },
  ];
  await call("PUT", "/v1/sites/probe/articles", admin, articles.map((a) => JSON.stringify(a)).join("\n"), "application/x-ndjson");
  const high = { burst: 1_000_000, per_hour: 10_000_000 };
  const limits = ["session_messages", "ip_messages", "site_messages", "ip_sessions", "site_sessions"];
  await call("PATCH", "/v1/sites/probe", admin, { rate_limits: Object.fromEntries(limits.map((l) => [l, high])) });
  await call("PUT", "/v1/sites/probe/channels/telegram", admin, { bot_token: "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw0", secret_token: "probe-secret", username: "probe_bot" });

  const hooks = [];
  for (let i = 0; i < n; i++) {
    const chat = 500 + (i % 20);
    const update = { update_id: 1000 + i, message: { message_id: i + 1, date: 1, chat: { id: chat, type: "private" }, from: { id: chat, is_bot: false, first_name: "P" }, text: "I forgot my password" } };
    const started = performance.now();
    const response = await fetch(`${base}/v1/sites/probe/inbound/telegram`, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": "probe-secret" },
      body: JSON.stringify(update),
    });
    await response.text();
    if (i >= warmup) hooks.push(performance.now() - started);
  }
  console.log(`telegram update -> acknowledged (kept in the site's inbox): ${stats(hooks)}`);

  // A phone call's question: Twilio waits on the line for our TwiML, so this is silence the
  // caller hears. Each request is signed as Twilio signs (HMAC-SHA1 of the URL and sorted
  // parameters, with the channel's auth token).
  const authToken = "9f8e7d6c5b4a39281706f5e4d3c2b1a0";
  const account = "AC0123456789abcdef0123456789abcdef";
  await call("PUT", "/v1/sites/probe/channels/voice", admin, { account_sid: account, auth_token: authToken, number: "+14155550142", support_number: "+14155550177" });
  const twilio = async (url, params) => {
    const signed = url + Object.keys(params).sort().map((k) => k + params[k]).join("");
    const signature = createHmac("sha1", authToken).update(signed).digest("base64");
    const response = await fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": signature },
      body: new URLSearchParams(params).toString(),
    });
    const twiml = await response.text();
    if (!response.ok) throw new Error(`${url} ${response.status} ${twiml}`);
    return twiml;
  };
  const turns = [];
  const line = `${base}/v1/sites/probe/inbound/voice/twilio`;
  for (let i = 0; i < Math.ceil(n / 10); i++) {
    const sid = `CA${i.toString(16).padStart(32, "0")}`;
    const caller = { CallSid: sid, AccountSid: account, From: `+1415555${(1000 + i).toString().padStart(4, "0")}`, To: "+14155550142", CallStatus: "ringing" };
    await twilio(line, caller);
    for (let turn = 1; turn <= 10; turn++) {
      const started = performance.now();
      const twiml = await twilio(`${line}/gather?turn=${turn}`, { ...caller, CallStatus: "in-progress", SpeechResult: "I forgot my password", Confidence: "0.9" });
      turns.push(performance.now() - started);
      if (!twiml.includes("Forgot password")) throw new Error(`no spoken answer: ${twiml}`);
    }
  }
  console.log(`phone question -> spoken answer (TwiML): ${stats(turns.slice(warmup))}`);

  const send = profiling ? await devtools() : null;
  if (send) await send("Profiler.enable"), await send("Profiler.setSamplingInterval", { interval: 200 });
  const { token } = await call("POST", "/v1/sites/probe/sessions");
  const ws = new WebSocket(`${base.replace("http", "ws")}/v1/sites/probe/conversation/live`, ["threadline.v1", `bearer.${token}`]);
  const replies = [];
  await new Promise((resolve) => {
    let i = 0;
    let sentAt = 0;
    const sendNext = () => {
      sentAt = performance.now();
      ws.send(JSON.stringify({ type: "send", id: `m${i}`, text: "I forgot my password" }));
    };
    ws.onmessage = async (event) => {
      const frame = JSON.parse(event.data);
      if (frame.type === "history") sendNext();
      else if (frame.type === "message" && frame.message.role === "bot") {
        if (i >= warmup) replies.push(performance.now() - sentAt);
        if (++i === warmup && send) await send("Profiler.start");
        if (i < n) sendNext();
        else resolve();
      }
    };
  });
  console.log(`socket message -> bot reply: ${stats(replies)}`);
  const profile = send ? (await send("Profiler.stop")).profile : null;

  const health = [];
  for (let i = 0; i < n; i++) {
    const started = performance.now();
    await (await fetch(`${base}/healthz`)).text();
    health.push(performance.now() - started);
  }
  console.log(`GET /healthz (wrangler's proxy): ${stats(health)}`);
  if (profile) report(profile, n - warmup, process.env.FOCUS || "exec");
} finally {
  stop();
}
