// End to end, no browser: a site whose stored knowledge index cannot be read after a restart (as
// after a deploy that changes the index's store format) has it rebuilt from its articles a step
// at a time, starting before the first question, while the site goes on answering its other
// requests; the questions wait for that one rebuild, and its index is stored for next time.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import { DatabaseSync } from "node:sqlite";
import { syntheticArticles } from "../../scripts/synthetic-articles.mjs";
import { createSiteWithKey, startOwnEdge } from "./pages.mjs";

const PORT = 8832;
const ROOT = new URL("../../", import.meta.url).pathname;
const DEMO = readFileSync(new URL("../../www/demo/articles.jsonl", import.meta.url), "utf8").trim();
// The demo's articles among enough others (the API's upload limit) that a rebuild takes a while.
const ARTICLES = [DEMO, ...syntheticArticles(2000 - DEMO.split("\n").length).map((a) => JSON.stringify(a))].join("\n");
const REBUILT = "rebuilding the site's index from its articles";

/** Resolves with what `promise` resolves to and when it did (ms since the time origin). */
const timed = (promise) => promise.then((value) => ({ value, at: performance.now() }));

/** A new visitor's session on `site`: `ask(text)` resolves to the bot's reply. */
async function visitor(edge, site) {
  const started = await fetch(`${edge.url}/v1/sites/${site.id}/sessions`, { method: "POST" });
  assert.equal(started.status, 201, await started.clone().text());
  const { token } = await started.json();
  let n = 0;
  return async (text) => {
    const response = await fetch(`${edge.url}/v1/sites/${site.id}/conversation/messages`, {
      method: "POST",
      headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
      body: JSON.stringify({ id: `m${n++}`, text }),
    });
    assert.equal(response.status, 200, await response.clone().text());
    return (await response.json()).messages[1].bot;
  };
}

/** Makes the site's stored index unreadable the way an older store format is: its version byte. */
function ageStoredIndex(siteId) {
  const dir = `${ROOT}target/test-state-${PORT}/v3/do/threadline-SiteObject`;
  const files = readdirSync(dir).filter((f) => f.endsWith(".sqlite"));
  let aged = 0;
  for (const file of files) {
    const db = new DatabaseSync(`${dir}/${file}`);
    try {
      const hasSite = db.prepare("SELECT 1 FROM sqlite_master WHERE name = 'site'").get();
      if (!hasSite || db.prepare("SELECT id FROM site").get()?.id !== siteId) continue;
      const { data } = db.prepare("SELECT data FROM index_chunks WHERE seq = 0").get();
      assert.equal(Buffer.from(data.subarray(0, 4)).toString(), "TLIX", "a stored index begins with its magic");
      data[4] -= 1; // the store format's version
      db.prepare("UPDATE index_chunks SET data = ? WHERE seq = 0").run(data);
      aged += 1;
    } finally {
      db.close();
    }
  }
  assert.equal(aged, 1, `one site object holds site ${siteId}`);
}

/** Kills the edge (SIGKILL) and waits a moment for its processes to be gone and its ports free;
 * SQLite replays their journal when the state is opened again. */
async function stop(edge) {
  edge.stop();
  await new Promise((r) => setTimeout(r, 500));
}

/** Waits (up to 20 s) until `done()` holds. */
async function until(done, what) {
  const started = performance.now();
  while (!done()) {
    if (performance.now() - started > 20_000) throw new Error(`waited 20 s for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const rebuildsLogged = () => readFileSync(`${ROOT}target/test-wrangler-${PORT}.log`, "utf8").split(REBUILT).length - 1;

test("an index stored in an older format is rebuilt before the first question, without holding up the site's other requests, answers as before, and is stored for the next start", async () => {
  const edge = startOwnEdge(PORT);
  try {
    const site = await createSiteWithKey("recovery", [], ARTICLES, edge.url);
    const before = await (await visitor(edge, site))("How do I reset my password?");
    assert.equal(before.article?.id, "reset-password", JSON.stringify(before));

    await stop(edge);
    ageStoredIndex(site.id);
    edge.restart();

    // Visitors open the widget: the site object's first request finds the index in an older
    // format and its alarm starts rebuilding it before anyone asks.
    const first = await visitor(edge, site);
    const second = await visitor(edge, site);
    await until(() => rebuildsLogged() === 1, "the rebuild to start before any question");
    const answers = [timed(first("How do I reset my password?")), timed(second("How do I reset my password please"))];
    // While the rebuild runs, the site object serves its other requests (the site record here).
    await new Promise((r) => setTimeout(r, 300));
    const record = await timed(fetch(`${edge.url}/v1/sites/${site.id}`, { headers: { Authorization: `Bearer ${site.adminKey}` } }));
    assert.equal(record.value.status, 200);
    const replies = await Promise.all(answers);
    for (const { value } of replies) assert.equal(value.article?.id, "reset-password", JSON.stringify(value));
    const answered = Math.min(...replies.map((r) => r.at));
    assert.ok(record.at < answered, `the site record came ${(record.at - answered).toFixed(0)} ms after the first answer: the rebuild held the site up`);
    console.log(`  site record ${(answered - record.at).toFixed(0)} ms before the first answer`);
    assert.equal(rebuildsLogged(), 1, "the two questions waited for one rebuild");

    // The rebuilt index was stored: the next start reads it instead of rebuilding.
    await stop(edge);
    edge.restart();
    const after = await (await visitor(edge, site))("How do I reset my password?");
    assert.equal(after.article?.id, "reset-password", JSON.stringify(after));
    assert.equal(rebuildsLogged(), 0, "no rebuild after the stored index was replaced");
  } finally {
    edge.stop();
  }
});
