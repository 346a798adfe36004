// Latency without load: N Telegram updates one at a time (default 200), then N live-socket
// messages each waiting for its bot reply, then N `GET /healthz` (wrangler's local proxy alone),
// on a fresh edge (port 8795, Telegram stand-in on 8805); prints mean and p50 of each.
// Usage: node scripts/seq-probe.mjs [requests]
import { spawn } from "node:child_process";
import { join } from "node:path";
import { devVars } from "./dev-vars.mjs";
import { startWrangler } from "./own-wrangler.mjs";
const root = new URL("..", import.meta.url).pathname;
const n = Number(process.argv[2] || 200);
const vars = devVars();
const sink = spawn(join(root, "node_modules/.bin/node"), [join(root, "scripts/mail-sink.mjs"), "8805", vars.EMAIL_API_TOKEN], { stdio: "ignore", env: { ...process.env, MAIL_SINK_QUIET: "1" } });
process.on("exit", () => sink.kill());
const { base, stop } = await startWrangler(8795, join(root, "target/probe-state"), ["TELEGRAM_API_URL:http://127.0.0.1:8805"]);
const call = async (method, path, token, body, type = "application/json") => {
  const r = await fetch(base + path, { method, headers: { ...(token ? { Authorization: `Bearer ${token}` } : {}), ...(body ? { "Content-Type": type } : {}) }, body: typeof body === "string" ? body : body && JSON.stringify(body) });
  const t = await r.text();
  if (!r.ok) throw new Error(`${path} ${r.status} ${t}`);
  return t ? JSON.parse(t) : null;
};
const stats = (xs) => { xs.sort((a, b) => a - b); return `mean ${(xs.reduce((a, b) => a + b, 0) / xs.length).toFixed(1)} ms, p50 ${xs[Math.floor(xs.length / 2)].toFixed(1)} ms`; };
try {
  const { admin_key: admin } = await call("POST", "/v1/sites", vars.OPERATOR_KEY, { id: "probe", name: "Probe" });
  const articles = [{ id: "reset-password", title: "Reset your password", body: "Use Forgot password.", questions: ["I forgot my password"] }, { id: "refunds", title: "Refunds", body: "Within 30 days.", questions: ["can I get my money back"] }];
  await call("PUT", "/v1/sites/probe/articles", admin, articles.map((a) => JSON.stringify(a)).join("\n"), "application/x-ndjson");
  const high = { burst: 1_000_000, per_hour: 10_000_000 };
  await call("PATCH", "/v1/sites/probe", admin, { rate_limits: { session_messages: high, ip_messages: high, site_messages: high, ip_sessions: high, site_sessions: high } });
  await call("PUT", "/v1/sites/probe/channels/telegram", admin, { bot_token: "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw0", secret_token: "probe-secret", username: "probe_bot" });
  const hooks = [];
  for (let i = 0; i < n; i++) {
    const chat = 500 + (i % 20);
    const update = { update_id: 1000 + i, message: { message_id: i + 1, date: 1, chat: { id: chat, type: "private" }, from: { id: chat, is_bot: false, first_name: "P" }, text: "I forgot my password" } };
    const t = performance.now();
    const r = await fetch(`${base}/v1/sites/probe/inbound/telegram`, { method: "POST", headers: { "Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": "probe-secret" }, body: JSON.stringify(update) });
    await r.text();
    if (i >= 20) hooks.push(performance.now() - t);
  }
  console.log(`telegram update, sequential: ${stats(hooks)}`);
  const { token } = await call("POST", "/v1/sites/probe/sessions");
  const ws = new WebSocket(`${base.replace("http", "ws")}/v1/sites/probe/conversation/live`, ["threadline.v1", `bearer.${token}`]);
  const times = [];
  await new Promise((resolve) => {
    let i = 0, t = 0;
    const sendNext = () => { t = performance.now(); ws.send(JSON.stringify({ type: "send", id: `m${i}`, text: "I forgot my password" })); };
    ws.onmessage = (e) => {
      const f = JSON.parse(e.data);
      if (f.type === "history") sendNext();
      else if (f.type === "message" && f.message.role === "bot") {
        if (i >= 20) times.push(performance.now() - t);
        if (++i < n) sendNext(); else resolve();
      }
    };
  });
  console.log(`socket message -> bot reply, sequential: ${stats(times)}`);
  const h = []; 
  for (let i = 0; i < n; i++) { const t = performance.now(); await (await fetch(`${base}/healthz`)).text(); h.push(performance.now() - t); }
  console.log(`healthz: ${stats(h)}`);
} finally { stop(); }
