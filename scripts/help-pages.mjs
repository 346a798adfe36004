// Renders the demo help centre (target/site/help/) from the demo's knowledge base, so the links
// in the bot's answers lead somewhere real. Usage: node help-pages.mjs <articles.jsonl> <out dir>
import { readFileSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const [articlesPath, outDir] = process.argv.slice(2);
const articles = readFileSync(articlesPath, "utf8").split("\n").filter((l) => l.trim()).map((l) => JSON.parse(l));
const escape = (s) => s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
const page = (title, body) => `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escape(title)} · Larkspur Help</title><link rel="stylesheet" href="/demo/site.css"></head>
<body><header class="bar"><a class="brand" href="/">Larkspur</a><nav><a href="/help/">Help centre</a></nav></header>
<main class="help">${body}</main>
<script src="http://127.0.0.1:8787/widget.js" data-site="demo" async></script>
</body></html>
`;
mkdirSync(outDir, { recursive: true });
for (const a of articles) {
  const paragraphs = a.body.split("\n\n").map((p) => `<p>${escape(p)}</p>`).join("\n");
  writeFileSync(join(outDir, `${a.id}.html`), page(a.title, `<p class="crumb"><a href="/help/">Help centre</a></p><h1>${escape(a.title)}</h1>\n${paragraphs}`));
}
const list = articles.map((a) => `<li><a href="/help/${a.id}">${escape(a.title)}</a></li>`).join("\n");
writeFileSync(join(outDir, "index.html"), page("Help centre", `<h1>Help centre</h1><ul class="articles">\n${list}\n</ul>`));
console.log(`  help centre: ${articles.length} articles`);
