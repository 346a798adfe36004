// Benchmarks the walking skeleton on loopback and prints the numbers (no pass/fail):
//   - cold start: `wrangler dev` spawned → /healthz answers → first bot answer through the API
//   - message round trip over the live WebSocket: 200 messages (20 visitors × 10, inside the
//     per-conversation rate limit), each timed from send to its stored echo and to the bot reply
// Needs a build (scripts/build). Usage: scripts/bench  (starts its own edge on port 8789)
import { spawn } from "node:child_process";
import { readFileSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { devVars } from "./dev-vars.mjs";
import { jsonClient } from "./own-wrangler.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const port = 8789;
const base = `http://127.0.0.1:${port}`;
const vars = devVars();
const articles = readFileSync(join(root, "www/demo/articles.jsonl"), "utf8");
const state = join(root, "target/bench-state");
rmSync(state, { recursive: true, force: true });

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const percentile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
const fmt = (ms) => `${ms.toFixed(1)} ms`;

console.log("[bench 1/3] starting wrangler dev (workerd) with empty state");
const t0 = performance.now();
const edge = spawn(join(root, "node_modules/.bin/wrangler"), ["dev", "--ip", "127.0.0.1", "--port", String(port), "--persist-to", state, "--log-level", "warn", "--show-interactive-dev-session=false"], {
  cwd: join(root, "edge"),
  detached: true,
  stdio: "ignore",
  env: { ...process.env, PATH: `${join(root, "node_modules/.bin")}:${process.env.PATH}`, WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false" },
});
const stop = () => {
  try {
    process.kill(-edge.pid, "SIGTERM");
  } catch {}
};
process.on("exit", stop);

try {
  let healthy;
  while (!healthy) {
    if (performance.now() - t0 > 90_000) throw new Error("wrangler dev did not start within 90 s");
    healthy = await fetch(`${base}/healthz`).then((r) => r.ok).catch(() => false);
    if (!healthy) await sleep(50);
  }
  const tHealthy = performance.now();
  const json = jsonClient(base);
  const operator = { Authorization: `Bearer ${vars.OPERATOR_KEY}`, "Content-Type": "application/json" };
  const { admin_key } = await json("POST", "/v1/sites", operator, JSON.stringify({ id: "bench", name: "Bench", allowed_origins: [] }));
  await json("PUT", "/v1/sites/bench/articles", { Authorization: `Bearer ${admin_key}`, "Content-Type": "application/x-ndjson" }, articles);
  const { token } = await json("POST", "/v1/sites/bench/sessions");
  const first = await json("POST", "/v1/sites/bench/conversation/messages", { Authorization: `Bearer ${token}`, "Content-Type": "application/json" }, JSON.stringify({ id: "first", text: "I forgot my password" }));
  if (first.messages[1]?.bot?.kind !== "answer") throw new Error(`first question was not answered: ${JSON.stringify(first)}`);
  const tFirst = performance.now();
  console.log(`  wrangler dev start → healthy        ${fmt(tHealthy - t0)}`);
  console.log(`  wrangler dev start → first answer   ${fmt(tFirst - t0)}  (incl. creating the site and loading 32 articles)`);

  console.log("[bench 2/3] 200 messages over the live WebSocket (20 visitors × 10, one at a time)");
  const questions = ["I forgot my password", "can I get a refund", "how do I cancel", "do you sell garden furniture", "connect stripe"];
  const echoes = [];
  const replies = [];
  for (let visitor = 0; visitor < 20; visitor++) {
    const { token } = await json("POST", "/v1/sites/bench/sessions");
    const socket = new WebSocket(`ws://127.0.0.1:${port}/v1/sites/bench/conversation/live`, ["threadline.v1", `bearer.${token}`]);
    const frames = [];
    let wake;
    socket.onmessage = (event) => {
      frames.push(JSON.parse(event.data));
      wake?.();
    };
    const nextFrame = async () => {
      while (!frames.length) await new Promise((r) => (wake = r));
      return frames.shift();
    };
    await new Promise((resolve, reject) => ((socket.onopen = resolve), (socket.onerror = reject)));
    await nextFrame(); // history
    for (let i = 0; i < 10; i++) {
      const id = `v${visitor}-m${i}`;
      const start = performance.now();
      socket.send(JSON.stringify({ type: "send", id, text: questions[(visitor + i) % questions.length] }));
      const echo = await nextFrame();
      if (echo.message?.id !== id) throw new Error(`expected the echo of ${id}, got ${JSON.stringify(echo)}`);
      echoes.push(performance.now() - start);
      const reply = await nextFrame();
      if (reply.message?.reply_to !== id) throw new Error(`expected the reply to ${id}, got ${JSON.stringify(reply)}`);
      replies.push(performance.now() - start);
    }
    socket.close();
  }
  console.log("[bench 3/3] results");
  for (const [name, samples] of [["send → stored echo", echoes], ["send → bot reply", replies]]) {
    const sorted = [...samples].sort((a, b) => a - b);
    console.log(`  ${name.padEnd(20)} n=${sorted.length}  p50 ${fmt(percentile(sorted, 50))}  p99 ${fmt(percentile(sorted, 99))}  max ${fmt(sorted.at(-1))}`);
  }
} finally {
  stop();
}
