// CPU profile of the worker: N live-socket messages (default 300) one at a time on a fresh edge
// (port 8795), sampled through wrangler's DevTools inspector (port 9229); prints self time per
// message by function (Rust names survive: worker-build keeps the name section), then who calls
// the heaviest leaf (FOCUS=<function>, default the SQL `exec`).
// Usage: node scripts/profile-probe.mjs [messages]
import { join } from "node:path";
import { devVars } from "./dev-vars.mjs";
import { startWrangler } from "./own-wrangler.mjs";
const root = new URL("..", import.meta.url).pathname;
const n = Number(process.argv[2] || 300);
const vars = devVars();
const { base, stop } = await startWrangler(8795, join(root, "target/probe-state"), ["TELEGRAM_API_URL:http://127.0.0.1:8805"]);
const call = async (method, path, token, body, type = "application/json") => {
  const r = await fetch(base + path, { method, headers: { ...(token ? { Authorization: `Bearer ${token}` } : {}), ...(body ? { "Content-Type": type } : {}) }, body: typeof body === "string" ? body : body && JSON.stringify(body) });
  const t = await r.text();
  if (!r.ok) throw new Error(`${path} ${r.status} ${t}`);
  return t ? JSON.parse(t) : null;
};
try {
  const targets = await (await fetch("http://127.0.0.1:9229/json")).json();
  const { admin_key: admin } = await call("POST", "/v1/sites", vars.OPERATOR_KEY, { id: "probe", name: "Probe" });
  const articles = [{ id: "reset-password", title: "Reset your password", body: "Use Forgot password.", questions: ["I forgot my password"] }, { id: "refunds", title: "Refunds", body: "Within 30 days.", questions: ["can I get my money back"] }];
  await call("PUT", "/v1/sites/probe/articles", admin, articles.map((a) => JSON.stringify(a)).join("\n"), "application/x-ndjson");
  const high = { burst: 1_000_000, per_hour: 10_000_000 };
  await call("PATCH", "/v1/sites/probe", admin, { rate_limits: { session_messages: high, ip_messages: high, site_messages: high, ip_sessions: high, site_sessions: high } });
  const { token } = await call("POST", "/v1/sites/probe/sessions");
  const cdp = new WebSocket(targets[0].webSocketDebuggerUrl, { headers: { Origin: "http://localhost" } });
  await new Promise((r) => (cdp.onopen = r));
  let id = 0;
  const pending = new Map();
  cdp.onmessage = async (e) => { const m = JSON.parse(typeof e.data === "string" ? e.data : await e.data.text?.() ?? String(e.data)); if (m.id && pending.has(m.id)) { pending.get(m.id)(m.result); pending.delete(m.id); } };
  const send = (method, params = {}) => new Promise((r) => { pending.set(++id, r); cdp.send(JSON.stringify({ id, method, params })); });
  await send("Profiler.enable");
  await send("Profiler.setSamplingInterval", { interval: 200 });
  const ws = new WebSocket(`${base.replace("http", "ws")}/v1/sites/probe/conversation/live`, ["threadline.v1", `bearer.${token}`]);
  let started = 0;
  await new Promise((resolve) => {
    let i = 0;
    const sendNext = () => ws.send(JSON.stringify({ type: "send", id: `m${i}`, text: "I forgot my password" }));
    ws.onmessage = async (e) => {
      const f = JSON.parse(e.data);
      if (f.type === "history") sendNext();
      else if (f.type === "message" && f.message.role === "bot") {
        i++;
        if (i === 20) { await send("Profiler.start"); started = performance.now(); }
        if (i < n) sendNext(); else resolve();
      }
    };
  });
  const wall = performance.now() - started;
  const { profile } = await send("Profiler.stop");
  const self = new Map();
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const counts = new Map();
  for (const s of profile.samples) counts.set(s, (counts.get(s) || 0) + 1);
  const dt = (profile.endTime - profile.startTime) / 1000 / profile.samples.length;
  let total = 0, idle = 0;
  for (const [nodeId, c] of counts) {
    const node = byId.get(nodeId);
    const name = node.callFrame.functionName || `(${node.callFrame.url.split("/").pop()}:${node.callFrame.lineNumber})`;
    if (name === "(idle)" || name === "(program)") { idle += c * dt; if (name === "(idle)") continue; }
    self.set(name, (self.get(name) || 0) + c * dt);
    total += c * dt;
  }
  const msgs = n - 20;
  console.log(`${msgs} messages in ${wall.toFixed(0)} ms wall; sampled busy ${total.toFixed(0)} ms (${(total / msgs).toFixed(2)} ms a message)`);
  for (const [name, ms] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 45)) console.log(`${(ms / msgs).toFixed(3).padStart(8)} ms/msg  ${name.slice(0, 110)}`);
  // Who calls the heaviest leaf (FOCUS, default exec): the nearest Rust frames above it.
  const focus = process.env.FOCUS || "exec";
  const parent = new Map();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const callers = new Map();
  for (const [nodeId, c] of counts) {
    if (byId.get(nodeId).callFrame.functionName !== focus) continue;
    const chain = [];
    for (let p = parent.get(nodeId); p && chain.length < 3; p = parent.get(p)) {
      const f = byId.get(p).callFrame.functionName;
      if (f.includes("::") && !/worker::|wasm_bindgen|js_sys|core::|alloc::|futures|closure/.test(f)) chain.push(f.replace(/::h[0-9a-f]{16}$/, ""));
    }
    const key = chain.join("  <-  ") || "(unknown)";
    callers.set(key, (callers.get(key) || 0) + c * dt);
  }
  console.log(`\n${focus} by caller:`);
  for (const [k, ms] of [...callers].sort((a, b) => b[1] - a[1]).slice(0, 15)) console.log(`${(ms / msgs).toFixed(3).padStart(8)} ms/msg  ${k.slice(0, 220)}`);
} finally { stop(); }
