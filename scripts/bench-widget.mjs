// Measures the widget's weight and what it does to the host page, and prints the numbers (no
// pass/fail): the loader and everything the widget downloads when opened, raw / gzip / brotli;
// then, in Chromium on the demo page, the main thread's long tasks (> 50 ms) before the first
// interaction, with the scripts that ran in each (none: the page's own parsing and layout), the
// same for the page without the widget (the control: loads alternate), and the time from a click
// on the launcher to the open panel and to the first answer.
// Usage: node scripts/bench-widget.mjs [runs]   (needs a build; starts its own edge on 8794)
import { readFileSync, readdirSync, statSync } from "node:fs";
import { createServer } from "node:http";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { brotliCompressSync, constants, gzipSync } from "node:zlib";
import { launchBrowser } from "../tests/e2e/browser.mjs";
import { devVars } from "./dev-vars.mjs";
import { startWrangler } from "./own-wrangler.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const site = join(root, "target/site");
const runs = Number(process.argv[2] || 5);
// Kilobytes of 1,000 bytes, as `scripts/build` and the README count them (and the 80 KB target).
const kb = (n) => `${(n / 1000).toFixed(1)} KB`;
const sizes = (path) => {
  const bytes = readFileSync(path);
  const brotli = brotliCompressSync(bytes, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }).length;
  return { raw: bytes.length, gzip: gzipSync(bytes, { level: 9 }).length, brotli };
};

console.log("[bench-widget 1/3] sizes (what a visitor downloads)");
const loader = sizes(join(site, "widget.js"));
const newest = (suffix) =>
  readdirSync(join(site, "widget"))
    .filter((f) => f.endsWith(suffix))
    .map((f) => join(site, "widget", f))
    .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs)[0];
const glue = sizes(newest(".js"));
const wasm = sizes(newest(".wasm"));
const opened = { raw: glue.raw + wasm.raw, gzip: glue.gzip + wasm.gzip, brotli: glue.brotli + wasm.brotli };
console.log(`  loader (on every page)            ${loader.raw} B raw, ${loader.gzip} B gzip, ${loader.brotli} B brotli   (target ≤ 2 KB gzip)`);
console.log(`  widget when opened (glue + Wasm)  ${kb(opened.raw)} raw, ${kb(opened.gzip)} gzip, ${kb(opened.brotli)} brotli   (target ≤ 80 KB brotli)`);

console.log("[bench-widget 2/3] starting wrangler dev (workerd) with empty state, and a host page");
process.on("SIGINT", () => process.exit(130));
const { base, stop } = await startWrangler(8794, join(root, "target/bench-widget-state"));
// The demo page, served from an origin of its own, embedding the widget from the edge.
const page = readFileSync(join(root, "www/index.html"), "utf8")
  .replaceAll("http://127.0.0.1:8787", base)
  .replace('href="/demo/site.css"', `href="${base}/demo/site.css"`);
// `/bare` is the same page without the widget's tag: the control, for how often the page and the
// browser alone have a long task here.
const bare = page.replace(/<script src="[^"]*widget\.js"[^>]*><\/script>/, "");
if (bare === page) throw new Error("the demo page's widget tag was not found");
const host = createServer((req, res) =>
  res.writeHead(200, { "Content-Type": "text/html; charset=utf-8" }).end(req.url === "/bare" ? bare : page),
);
await new Promise((resolve) => host.listen(0, "127.0.0.1", resolve));
const origin = `http://127.0.0.1:${host.address().port}`;
const operator = { Authorization: `Bearer ${devVars().OPERATOR_KEY}`, "Content-Type": "application/json" };
const created = await fetch(`${base}/v1/sites`, {
  method: "POST",
  headers: operator,
  body: JSON.stringify({ id: "demo", name: "Larkspur", allowed_origins: [origin] }),
});
if (created.status !== 201) throw new Error(`creating the site: ${created.status}`);
const { admin_key } = await created.json();
// Every load is a new visitor from the same address: without this, the site's per-address limit
// on new sessions (a burst of 20, then one every 6 s) holds the 21st load's first answer for
// seconds, which would be timed here as the widget's.
const lifted = { burst: 1_000_000, per_hour: 10_000_000 };
const limited = await fetch(`${base}/v1/sites/demo`, {
  method: "PATCH",
  headers: { Authorization: `Bearer ${admin_key}`, "Content-Type": "application/json" },
  body: JSON.stringify({ rate_limits: { ip_sessions: lifted, site_sessions: lifted, ip_messages: lifted } }),
});
if (limited.status !== 200) throw new Error(`lifting the demo site's limits: ${limited.status}`);
await fetch(`${base}/v1/sites/demo/articles`, {
  method: "PUT",
  headers: { Authorization: `Bearer ${admin_key}`, "Content-Type": "application/x-ndjson" },
  body: readFileSync(join(root, "www/demo/articles.jsonl"), "utf8"),
});

console.log(`[bench-widget 3/3] Chromium, ${runs} page loads (fresh browser context each)`);
const browser = await launchBrowser();
const results = [];
const control = [];
// Long tasks, and the long animation frames that name the scripts that ran in them: they tell the
// widget's long tasks from the page's own (layout, parsing, the browser's start-up).
const observe = () => {
  window.__longTasks = [];
  window.__frames = [];
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) window.__longTasks.push({ start: entry.startTime, duration: entry.duration });
  }).observe({ type: "longtask", buffered: true });
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      window.__frames.push({
        start: entry.startTime,
        end: entry.startTime + entry.duration,
        scripts: entry.scripts.map((s) => ({
          name: `${s.invoker}${s.sourceURL ? ` in ${s.sourceURL.split("/").pop()}` : ""}`,
          duration: s.duration,
        })),
      });
    }
  }).observe({ type: "long-animation-frame", buffered: true });
};
const longTasks = (tab) =>
  tab.evaluate(() =>
    window.__longTasks.map((task) => {
      const frame = window.__frames.find((f) => f.start <= task.start + 1 && task.start < f.end);
      const scripts = (frame?.scripts ?? []).filter((s) => s.duration > 0);
      return { ...task, scripts: scripts.map((s) => `${s.name} ${s.duration.toFixed(0)} ms`) };
    }),
  );
const describe = (tasks) =>
  tasks.map((t) => `; ${t.duration.toFixed(0)} ms at ${t.start.toFixed(0)} ms, scripts in its frame: ${t.scripts.join(", ") || "none"}`).join("");
for (let run = 1; run <= runs; run++) {
  // The control first: the same page without the widget, watched for a second after its load
  // event (about as long as a widget load, which is watched until the widget is ready, then 0.5 s).
  const plain = await browser.newContext();
  const plainTab = await plain.newPage();
  await plainTab.addInitScript(observe);
  await plainTab.goto(`${origin}/bare`, { waitUntil: "load" });
  await plainTab.waitForTimeout(1000);
  const own = await longTasks(plainTab);
  control.push(own.length);
  await plain.close();

  const context = await browser.newContext();
  const tab = await context.newPage();
  await tab.addInitScript(observe);
  await tab.goto(origin, { waitUntil: "load" });
  await tab.locator("[data-threadline][data-state=ready]").waitFor({ state: "attached", timeout: 30_000 });
  await tab.waitForTimeout(500);
  const before = {
    tasks: await longTasks(tab),
    ready: await tab.evaluate(() => performance.getEntriesByType("resource").find((e) => e.name.endsWith(".wasm"))?.responseEnd ?? 0),
  };
  const clicked = Date.now();
  await tab.locator("[data-threadline] .tl-launcher").click();
  await tab.locator("[data-threadline] .tl-panel").waitFor({ state: "visible" });
  const openMs = Date.now() - clicked;
  await tab.locator("[data-threadline] textarea").fill("I forgot my password");
  const asked = Date.now();
  await tab.locator("[data-threadline] textarea").press("Enter");
  await tab.locator("[data-threadline] li[data-role=bot]").first().waitFor({ state: "visible" });
  const answerMs = Date.now() - asked;
  const longest = Math.max(0, ...before.tasks.map((t) => t.duration));
  results.push({ longTasks: before.tasks.length, longest, openMs, answerMs, wasmLoadedAt: before.ready });
  console.log(
    `  run ${run}/${runs}: ${before.tasks.length} long tasks before the first interaction (longest ${longest.toFixed(0)} ms` +
      `${describe(before.tasks)}), ` +
      `Wasm loaded ${before.ready.toFixed(0)} ms after navigation, panel open ${openMs} ms after the click, first answer ${answerMs} ms; ` +
      `without the widget: ${own.length} long tasks${describe(own)}`,
  );
  await context.close();
}
await browser.close();
host.close();
const median = (values) => values.slice().sort((a, b) => a - b)[Math.floor(values.length / 2)];
console.log(
  `widget: loader ${loader.gzip} B gzip; opened ${kb(opened.brotli)} brotli; long tasks before interaction: ` +
    `max ${Math.max(...results.map((r) => r.longTasks))} (longest ${Math.max(...results.map((r) => r.longest)).toFixed(0)} ms), ` +
    `in ${results.filter((r) => r.longTasks > 0).length} of ${results.length} loads ` +
    `(the page without the widget: in ${control.filter((n) => n > 0).length} of ${control.length}); ` +
    `open median ${median(results.map((r) => r.openMs))} ms; first answer median ${median(results.map((r) => r.answerMs))} ms`,
);
stop();
process.exit(0);
