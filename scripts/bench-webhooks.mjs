// Benchmarks webhook delivery on loopback and prints the numbers (no pass/fail): N visitors each
// ask for a person; a local receiver timestamps each `conversation.escalated` as it arrives.
// Latency = from the visitor's message being sent to the event reaching the receiver (through
// the conversation, the site's queue, the Cloudflare Queue and its consumer).
// Usage: node scripts/bench-webhooks.mjs [visitors]   (needs a build; starts its own edge on 8792)
import { createServer } from "node:http";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { devVars } from "./dev-vars.mjs";
import { startWrangler } from "./own-wrangler.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const port = 8792;
const visitors = Number(process.argv[2] || 100);
const vars = devVars();
const percentile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];

console.log(`[bench-webhooks 1/3] starting wrangler dev (workerd) with empty state`);
const { base, stop } = await startWrangler(port, join(root, "target/bench-webhooks-state"), ["ALLOW_LOOPBACK_WEBHOOKS:1"]);

const arrivals = new Map();
const receiver = createServer((req, res) => {
  let body = "";
  req.on("data", (c) => (body += c));
  req.on("end", () => {
    const event = JSON.parse(body);
    if (event.type === "conversation.escalated") arrivals.set(event.data.conversation, performance.now());
    res.writeHead(204).end();
  });
});
await new Promise((r) => receiver.listen(0, "127.0.0.1", r));

try {
  const post = async (path, body, token) => {
    const response = await fetch(`${base}${path}`, {
      method: "POST",
      headers: { "Content-Type": "application/json", ...(token ? { Authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify(body),
    });
    if (!response.ok) throw new Error(`${path}: ${response.status} ${await response.text()}`);
    return response.json();
  };
  const site = "bench-webhooks";
  const { admin_key } = await post("/v1/sites", { id: site, name: "Bench", allowed_origins: [] }, vars.OPERATOR_KEY);
  await post(`/v1/sites/${site}/webhooks`, { url: `http://127.0.0.1:${receiver.address().port}/hook`, events: ["conversation.escalated"] }, admin_key);
  console.log(`[bench-webhooks 2/3] ${visitors} visitors ask for a person, one after another`);
  const sent = new Map();
  for (let i = 0; i < visitors; i++) {
    const { token } = await post(`/v1/sites/${site}/sessions`, {});
    const conversation = JSON.parse(Buffer.from(token.split(".")[1], "base64url").toString()).sub;
    sent.set(conversation, performance.now());
    await post(`/v1/sites/${site}/conversation/messages`, { id: `m${i}`, text: "I'd like to talk to a person" }, token);
  }
  const deadline = performance.now() + 60_000;
  while (arrivals.size < visitors && performance.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  const latencies = [...sent].filter(([c]) => arrivals.has(c)).map(([c, t]) => arrivals.get(c) - t).sort((a, b) => a - b);
  console.log(
    `[bench-webhooks 3/3] delivered ${latencies.length}/${visitors}; escalation → receiver p50 ${percentile(latencies, 50).toFixed(1)} ms, p99 ${percentile(latencies, 99).toFixed(1)} ms, max ${latencies.at(-1).toFixed(1)} ms`,
  );
} catch (error) {
  console.error(error);
  process.exitCode = 1;
} finally {
  receiver.close();
  stop();
}
