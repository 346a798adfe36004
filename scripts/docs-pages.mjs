// Renders www/docs/*.md into HTML pages for the demo's /docs/ (marked, at build time only).
// Usage: node docs-pages.mjs <docs dir> <out dir>
import { readFileSync, readdirSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Marked } from "marked";

const [docsDir, outDir] = process.argv.slice(2);
const slug = (text) => text.toLowerCase().replace(/<[^>]+>/g, "").replace(/[^a-z0-9 -]/g, "").trim().replace(/ +/g, "-");
const marked = new Marked({
  renderer: {
    heading({ tokens, depth }) {
      const html = this.parser.parseInline(tokens);
      return `<h${depth} id="${slug(html)}">${html}</h${depth}>\n`;
    },
    link({ href, tokens }) {
      const target = href.replace(/^([\w-]+)\.md(#|$)/, "$1$2");
      return `<a href="${target}">${this.parser.parseInline(tokens)}</a>`;
    },
  },
});
mkdirSync(outDir, { recursive: true });
const pages = readdirSync(docsDir).filter((f) => f.endsWith(".md"));
for (const file of pages) {
  const markdown = readFileSync(join(docsDir, file), "utf8");
  const title = markdown.match(/^# (.*)$/m)?.[1] ?? file;
  const body = marked.parse(markdown);
  writeFileSync(
    join(outDir, file.replace(/\.md$/, ".html")),
    `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} · Threadline</title><link rel="stylesheet" href="/docs/docs.css"></head>
<body><nav><a href="/">Demo</a> <a href="/docs/">Docs</a> <a href="/docs/api">API reference</a></nav><main>
${body}</main>
<script src="/widget.js" data-site="demo" async></script>
</body></html>
`,
  );
}
console.log(`  docs: ${pages.length} pages`);
