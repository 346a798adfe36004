// How long a visitor's question waits while the site's knowledge base is re-indexed, in workerd:
// new visitors each start a session and ask a question, one after another, before and during an upload of N
// synthetic articles (default 2,000, the API's upload limit), and the latencies are printed.
// The index is built a step at a time between questions (shared/src/index/build.rs); what is left
// is the longest step and the final swap, which stores the articles and the index in one atomic
// write. Needs a build (scripts/build). Usage: node scripts/bench-upload.mjs [articles]
// (starts its own edge on port 8790)
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { devVars } from "./dev-vars.mjs";
import { jsonClient, startWrangler } from "./own-wrangler.mjs";
import { syntheticArticles } from "./synthetic-articles.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const vars = devVars();
const n = Number(process.argv[2] ?? 2000);

const percentile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];

const synthetic = syntheticArticles(n).map((a) => JSON.stringify(a)).join("\n");

console.log(`[bench-upload 1/3] starting wrangler dev (workerd) with empty state`);
const { base, stop } = await startWrangler(8790, join(root, "target/bench-upload-state"));
try {
  const json = jsonClient(base);
  const operator = { Authorization: `Bearer ${vars.OPERATOR_KEY}`, "Content-Type": "application/json" };
  const { admin_key } = await json("POST", "/v1/sites", operator, JSON.stringify({ id: "bench", name: "Bench", allowed_origins: [] }));
  const admin = { Authorization: `Bearer ${admin_key}` };
  // Many visitors ask from one address: lift the site's message and session limits.
  const lifted = { burst: 1_000_000, per_hour: 10_000_000 };
  const limits = { session_messages: lifted, ip_messages: lifted, site_messages: lifted, ip_sessions: lifted, site_sessions: lifted };
  await json("PATCH", "/v1/sites/bench", { ...admin, "Content-Type": "application/json" }, JSON.stringify({ rate_limits: limits }));
  await json("PUT", "/v1/sites/bench/articles", { ...admin, "Content-Type": "application/x-ndjson" }, synthetic.split("\n").slice(0, 200).join("\n"));
  // Each question is a new visitor's first (a conversation that keeps asking would be handed to a
  // person), timed with the session it starts.
  const question = JSON.parse(synthetic.split("\n", 1)[0]).questions[0];
  const ask = async () => {
    const t = performance.now();
    const { token } = await json("POST", "/v1/sites/bench/sessions");
    const reply = await json("POST", "/v1/sites/bench/conversation/messages", { Authorization: `Bearer ${token}`, "Content-Type": "application/json" }, JSON.stringify({ id: "q", text: question }));
    if (!reply.messages?.[1]?.bot) throw new Error(`no bot reply: ${JSON.stringify(reply)}`);
    return performance.now() - t;
  };
  const summary = (label, latencies) => {
    const sorted = [...latencies].sort((a, b) => a - b);
    console.log(`  ${label}: ${sorted.length} questions, p50 ${percentile(sorted, 50).toFixed(1)} ms, p99 ${percentile(sorted, 99).toFixed(1)} ms, max ${sorted.at(-1).toFixed(1)} ms`);
  };

  console.log("[bench-upload 2/3] 100 questions with no upload running (200 articles indexed)");
  const quiet = [];
  for (let i = 0; i < 100; i++) quiet.push(await ask());
  summary("no upload", quiet);

  console.log(`[bench-upload 3/3] questions, one at a time, while ${n} articles (${(synthetic.length / 1e6).toFixed(1)} MB) are uploaded and indexed`);
  const t = performance.now();
  let done = false;
  const upload = json("PUT", "/v1/sites/bench/articles", { ...admin, "Content-Type": "application/x-ndjson" }, synthetic).then((r) => {
    done = true;
    return r;
  });
  const during = [];
  const when = [];
  while (!done) {
    const latency = await ask();
    during.push(latency);
    when.push([performance.now() - t - latency, latency]);
  }
  const reply = await upload;
  const took = performance.now() - t;
  console.log(`  upload of ${reply.articles ?? n} articles answered after ${(took / 1000).toFixed(1)} s`);
  summary("during the upload", during);
  const slowest = when.sort((a, b) => b[1] - a[1]).slice(0, 3);
  console.log(`  slowest, asked at: ${slowest.map(([at, ms]) => `${ms.toFixed(0)} ms at ${(at / 1000).toFixed(2)} s`).join(", ")} (of ${(took / 1000).toFixed(2)} s)`);
} finally {
  stop();
}
