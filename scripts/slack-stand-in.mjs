// A local stand-in for Slack's incoming webhooks
// (https://docs.slack.dev/messaging/sending-messages-using-incoming-webhooks):
// `POST /services/T…/B…/<token>` with a JSON message. It checks what Slack checks (JSON, `text`
// or `blocks`, at most 50 blocks, known block types, a header's plain text of at most 150
// characters, a section's text of at most 3,000) and answers as Slack does: `ok` (text/plain),
// or 400 `invalid_payload` / `invalid_blocks` / `no_text`. It also holds each webhook to Slack's
// rate of one message a second: a message within a second of the last answers 429
// `rate_limited` with `Retry-After: 1`, and is counted. Served by scripts/mail-sink.mjs.
//
// For tests:
//   GET /_sink/slack?hook=<path>   {"messages": [{"at", "body"}], "rate_limited": n, "rejected": [...]}

const hooks = new Map();
const BLOCKS = ["header", "section", "context", "actions", "divider", "image", "rich_text"];

function hook(path) {
  if (!hooks.has(path)) hooks.set(path, { messages: [], rate_limited: 0, rejected: [], last: 0 });
  return hooks.get(path);
}

function problem(message) {
  if (typeof message !== "object" || message === null) return "invalid_payload";
  const blocks = message.blocks;
  if (blocks === undefined) return typeof message.text === "string" && message.text.trim() ? null : "no_text";
  if (!Array.isArray(blocks) || blocks.length === 0 || blocks.length > 50) return "invalid_blocks";
  for (const block of blocks) {
    if (!BLOCKS.includes(block.type)) return "invalid_blocks";
    if (block.type === "header" && (block.text?.type !== "plain_text" || !(block.text.text?.length <= 150))) return "invalid_blocks";
    if (block.type === "section" && block.text && !(block.text.text?.length <= 3000)) return "invalid_blocks";
    if (block.type === "section" && !block.text && !block.fields) return "invalid_blocks";
  }
  return null;
}

export function slack(req, res, url, body, reply) {
  if (req.method === "GET" && url.pathname === "/_sink/slack") {
    const { messages, rate_limited, rejected } = hook(url.searchParams.get("hook") || "");
    reply(res, 200, { messages, rate_limited, rejected });
    return true;
  }
  if (!/^\/services\/T[A-Z0-9]+\/B[A-Z0-9]+\/[A-Za-z0-9]+$/.test(url.pathname)) return false;
  const plain = (status, text, headers = {}) => {
    res.writeHead(status, { "Content-Type": "text/plain", ...headers });
    res.end(text);
  };
  if (req.method !== "POST") return plain(405, "invalid_request"), true;
  const state = hook(url.pathname);
  const now = Date.now();
  if (now - state.last < 1000) {
    state.rate_limited += 1;
    return plain(429, "rate_limited", { "Retry-After": "1" }), true;
  }
  let message;
  try {
    message = JSON.parse(body);
  } catch {
    message = undefined;
  }
  const why = problem(message);
  if (why) {
    state.rejected.push(why);
    return plain(400, why), true;
  }
  state.last = now;
  state.messages.push({ at: now, body: message });
  return plain(200, "ok"), true;
}
