// Benchmarks identity at scale on loopback and prints the numbers (no pass/fail):
//   - fills one site's profile directory with N identities (default 1,000,000: N/2 profiles with a
//     user id and an email each) through the admin import API, in batches, with progress
//   - identity lookup round trips (GET /profiles?identity=…, through the worker into the
//     directory's SQLite index) at 1,000 identities and again at N: p50/p99
//   - merge time: a second device identifies as a user whose profile holds M messages, and its
//     own M messages join (M = 10 and 1,000): the identify call, end to end
// Usage: node scripts/bench-identity.mjs [identities]   (needs a build; starts its own edge on
// port 8790 with rate limits off, which only benchmarks may do)
import { spawn } from "node:child_process";
import { createHmac } from "node:crypto";
import { rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { devVars } from "./dev-vars.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const port = 8790;
const base = `http://127.0.0.1:${port}`;
const total = Number(process.argv[2] || 1_000_000);
const vars = devVars();
const state = join(root, "target/bench-identity-state");
rmSync(state, { recursive: true, force: true });

const percentile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
const ms = (v) => `${v.toFixed(2)} ms`;
const say = (step, text) => console.log(`[bench-identity ${step}] ${text}`);

say("1/5", "starting wrangler dev (workerd) with empty state and rate limits off");
const edge = spawn(
  join(root, "node_modules/.bin/wrangler"),
  ["dev", "--ip", "127.0.0.1", "--port", String(port), "--persist-to", state, "--log-level", "warn", "--show-interactive-dev-session=false", "--var", "UNSAFE_NO_RATE_LIMITS:1"],
  {
    cwd: join(root, "edge"),
    detached: true,
    stdio: "ignore",
    env: { ...process.env, PATH: `${join(root, "node_modules/.bin")}:${process.env.PATH}`, WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false" },
  },
);
process.on("exit", () => {
  try {
    process.kill(-edge.pid, "SIGTERM");
  } catch {}
});

async function call(method, path, { token, body, type = "application/json" } = {}) {
  const headers = {};
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers["Content-Type"] = type;
  const response = await fetch(`${base}${path}`, { method, headers, body: typeof body === "string" ? body : body && JSON.stringify(body) });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${text.slice(0, 300)}`);
  return JSON.parse(text);
}

try {
  const started = performance.now();
  while (!(await fetch(`${base}/healthz`).then((r) => r.ok).catch(() => false))) {
    if (performance.now() - started > 90_000) throw new Error("wrangler dev did not start within 90 s");
    await new Promise((r) => setTimeout(r, 200));
  }
  const site = "bench-identity";
  const { admin_key: admin } = await call("POST", "/v1/sites", { token: vars.OPERATOR_KEY, body: { id: site, name: "Bench", allowed_origins: [] } });
  const secret = await call("POST", `/v1/sites/${site}/identity-secrets`, { token: admin });
  const people = total / 2;
  const batch = 25_000;
  let imported = 0;
  const importUpTo = async (target) => {
    while (imported < target) {
      const n = Math.min(batch, target - imported);
      const lines = [];
      for (let i = imported; i < imported + n; i++) lines.push(`{"user_id":"u${i}","email":"u${i}@bench.example"}`);
      await call("POST", `/v1/sites/${site}/profiles/import`, { token: admin, body: lines.join("\n"), type: "application/x-ndjson" });
      imported += n;
    }
  };
  const lookups = async (label, count) => {
    const times = [];
    for (let k = 0; k < count; k++) {
      const i = Math.floor(Math.random() * imported);
      const identity = k % 2 ? `user_id:u${i}` : `email:u${i}@bench.example`;
      const t = performance.now();
      const { profiles } = await call("GET", `/v1/sites/${site}/profiles?identity=${encodeURIComponent(identity)}`, { token: admin });
      times.push(performance.now() - t);
      if (profiles.length !== 1) throw new Error(`${identity}: ${profiles.length} profiles`);
    }
    times.sort((a, b) => a - b);
    say(label, `${count} lookups among ${(imported * 2).toLocaleString("en")} identities: p50 ${ms(percentile(times, 50))}, p99 ${ms(percentile(times, 99))}`);
    return times;
  };

  const baseline = [];
  for (let k = 0; k < 500; k++) {
    const t = performance.now();
    await fetch(`${base}/healthz`).then((r) => r.text());
    baseline.push(performance.now() - t);
  }
  baseline.sort((a, b) => a - b);
  say("1/5", `baseline: GET /healthz (the worker alone, through wrangler dev's local proxy) p50 ${ms(percentile(baseline, 50))}, p99 ${ms(percentile(baseline, 99))}`);

  say("2/5", "1,000 identities, then lookups");
  await importUpTo(500);
  await lookups("2/5", 1000);

  say("3/5", `filling to ${total.toLocaleString("en")} identities (${people.toLocaleString("en")} profiles, batches of ${batch.toLocaleString("en")})`);
  const fillStart = performance.now();
  while (imported < people) {
    await importUpTo(Math.min(people, imported + batch * 4));
    const seconds = (performance.now() - fillStart) / 1000;
    say("3/5", `${(imported * 2).toLocaleString("en")} / ${total.toLocaleString("en")} identities after ${seconds.toFixed(0)} s`);
  }
  say("4/5", `lookups at ${total.toLocaleString("en")} identities`);
  await lookups("4/5", 2000);

  say("5/5", "merge time: a second device, M messages each side, identifies as the first device's user");
  const sign = (claims) => {
    const b64 = (v) => Buffer.from(JSON.stringify(v)).toString("base64url");
    const head = `${b64({ alg: "HS256", typ: "JWT", kid: secret.kid })}.${b64(claims)}`;
    return `${head}.${createHmac("sha256", secret.secret).update(head).digest("base64url")}`;
  };
  for (const m of [10, 1000]) {
    const results = [];
    for (let run = 0; run < 3; run++) {
      const user = `merge-${m}-${run}`;
      const token = sign({ sub: user, aud: site, exp: Math.floor(Date.now() / 1000) + 600 });
      const fill = async (session, tag) => {
        for (let k = 0; k < m; k++) {
          await call("POST", `/v1/sites/${site}/conversation/messages`, { token: session, body: { id: `${tag}${k}`, text: `message ${k} from ${tag}` } });
        }
      };
      let a = (await call("POST", `/v1/sites/${site}/sessions`)).token;
      await fill(a, "a");
      a = (await call("POST", `/v1/sites/${site}/identify`, { token: a, body: { token } })).token;
      const b = (await call("POST", `/v1/sites/${site}/sessions`)).token;
      await fill(b, "b");
      const t = performance.now();
      const merged = await call("POST", `/v1/sites/${site}/identify`, { token: b, body: { token } });
      results.push(performance.now() - t);
      const { messages } = await call("GET", `/v1/sites/${site}/conversation`, { token: merged.token });
      const expected = Math.min(500, 4 * m); // each side: M messages and M bot replies; one page is 500
      if (merged.outcome !== "merged" || messages.length !== expected) throw new Error(`merge of ${m}: ${merged.outcome}, ${messages.length} messages`);
    }
    results.sort((x, y) => x - y);
    say("5/5", `merge with ${m} messages on each side (${4 * m} in the joined timeline): median ${ms(results[1])} (runs: ${results.map(ms).join(", ")})`);
  }
} catch (error) {
  console.error(error);
  process.exitCode = 1;
} finally {
  try {
    process.kill(-edge.pid, "SIGTERM");
  } catch {}
}
