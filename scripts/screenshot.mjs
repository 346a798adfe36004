// Takes the README's screenshot (www/docs/screenshot.png) of the running demo (scripts/demo):
// the Larkspur page with the chat open after an answered and an unanswered question.
import { launchBrowser } from "../tests/e2e/browser.mjs";

const browser = await launchBrowser();
const page = await browser.newPage({ viewport: { width: 1280, height: 800 }, deviceScaleFactor: 1 });
await page.goto("http://127.0.0.1:8787/");
const host = page.locator("[data-threadline]");
await host.locator(".tl-launcher").click();
for (const [question, kind] of [["I forgot my password", "answer"], ["Do you sell garden furniture?", "no_answer"]]) {
  const n = await host.locator(`li[data-kind=${kind}]`).count();
  await host.locator("textarea").fill(question);
  await host.locator("textarea").press("Enter");
  await host.locator(`li[data-kind=${kind}]`).nth(n).waitFor();
}
await host.locator("textarea").blur();
await page.screenshot({ path: new URL("../www/docs/screenshot.png", import.meta.url).pathname });
await browser.close();
