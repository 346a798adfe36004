// The support dashboard: reads the site's metrics, knowledge proposals and integrations' health
// through the admin API (the key stays in this tab's sessionStorage) and draws them as SVG.
// Every text from the API is set with textContent, never parsed as HTML.

const SVG = "http://www.w3.org/2000/svg";
const COLOURS = {
  all: "#111827", chat: "#4f46e5", email: "#0e7490", sms: "#b45309", whatsapp: "#15803d",
  messenger: "#be185d", instagram: "#7e22ce", telegram: "#0369a1", phone: "#475569",
};
const $ = (id) => document.getElementById(id);
let site = "";
let key = "";
let range = { from: "", to: "", hours: "all" };

function el(tag, text, attrs = {}) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, value);
  if (text !== undefined) node.textContent = text;
  return node;
}

function svgEl(tag, attrs = {}, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, String(value));
  if (text !== undefined) node.textContent = text;
  return node;
}

async function api(path, options = {}) {
  const response = await fetch(`/v1/sites/${encodeURIComponent(site)}${path}`, {
    ...options,
    headers: { Authorization: `Bearer ${key}`, ...(options.headers ?? {}) },
  });
  if (!response.ok) {
    const body = await response.json().catch(() => null);
    throw new Error(body?.error?.message ?? `the API answered ${response.status}`);
  }
  return response;
}

const percent = (v) => (v == null ? "–" : `${Math.round(v * 100)}%`);
function duration(seconds) {
  if (seconds == null) return "–";
  if (seconds < 90) return `${Math.round(seconds)} s`;
  if (seconds < 5400) return `${Math.round(seconds / 60)} min`;
  return `${(seconds / 3600).toFixed(1)} h`;
}

function tiles(total) {
  const box = $("tiles");
  box.replaceChildren();
  for (const [label, value] of [
    ["Conversations", String(total.contacts)],
    ["Deflected by the bot", percent(total.deflection_rate)],
    ["Resolved on first contact", percent(total.first_contact_resolution_rate)],
    ["Went to a person", percent(total.escalation_rate)],
    ["First human response, p50", duration(total.first_human_response_s.p50)],
    ["CSAT", total.csat_mean == null ? "–" : `${total.csat_mean.toFixed(1)} / 5`],
  ]) {
    const tile = el("div", undefined, { class: "tile" });
    tile.append(el("div", value, { class: "value" }), el("div", label, { class: "label" }));
    box.append(tile);
  }
}

/** A line chart of `series` ({name, values}) over `days`, values scaled to `max`. */
function lineChart(container, title, days, series, { max, format }) {
  container.replaceChildren();
  const drawn = series.filter((s) => s.values.some((v) => v != null));
  if (drawn.length === 0) {
    container.append(el("p", "No data in these days yet.", { class: "empty" }));
    return;
  }
  const [w, h, left, bottom, top] = [640, 220, 48, 24, 8];
  const x = (i) => left + (days.length === 1 ? 0 : (i * (w - left - 8)) / (days.length - 1));
  const y = (v) => top + (h - top - bottom) * (1 - v / max);
  const chart = svgEl("svg", { viewBox: `0 0 ${w} ${h}`, role: "img", "aria-label": title });
  for (let k = 0; k <= 4; k += 1) {
    const v = (max * k) / 4;
    chart.append(svgEl("line", { x1: left, x2: w - 8, y1: y(v), y2: y(v), stroke: "#e2e8f0" }));
    chart.append(svgEl("text", { x: left - 6, y: y(v) + 4, "text-anchor": "end" }, format(v)));
  }
  const step = Math.max(1, Math.ceil(days.length / 6));
  days.forEach((day, i) => {
    if (i % step === 0 || i === days.length - 1) {
      const anchor = i === 0 ? "start" : i === days.length - 1 ? "end" : "middle";
      chart.append(svgEl("text", { x: x(i), y: h - 6, "text-anchor": anchor }, day.slice(5)));
    }
  });
  for (const s of drawn) {
    const colour = COLOURS[s.name] ?? "#334155";
    let points = [];
    const flush = () => {
      if (points.length > 1) {
        chart.append(svgEl("polyline", { points: points.join(" "), fill: "none", stroke: colour, "stroke-width": 2, "data-series": s.name }));
      }
      points = [];
    };
    s.values.forEach((v, i) => {
      if (v == null) return flush();
      const px = x(i).toFixed(1);
      const py = y(Math.min(v, max)).toFixed(1);
      points.push(`${px},${py}`);
      const dot = svgEl("circle", { cx: px, cy: py, r: 2.5, fill: colour });
      dot.append(svgEl("title", {}, `${s.name} ${days[i]}: ${format(v)}`));
      chart.append(dot);
    });
    flush();
  }
  const legend = el("ul", undefined, { class: "legend" });
  for (const s of drawn) {
    const item = el("li", s.name);
    item.style.setProperty("--swatch", COLOURS[s.name] ?? "#334155");
    legend.append(item);
  }
  container.append(chart, legend);
}

function channelSeries(report, pick) {
  const names = Object.keys(report.channels);
  return names.map((name) => ({ name, values: report.days.map((d) => (d.channels[name] ? pick(d.channels[name]) : null)) }));
}

function reasons(list) {
  const box = $("reasons");
  box.replaceChildren();
  if (list.length === 0) {
    box.append(el("p", "Nothing went to a person in these days.", { class: "empty" }));
    return;
  }
  const top = list.slice(0, 8);
  const most = Math.max(...top.map((r) => r.count));
  const row = 26;
  const chart = svgEl("svg", { viewBox: `0 0 640 ${top.length * row + 4}`, role: "img", "aria-label": "Escalation reasons" });
  top.forEach((r, i) => {
    const width = Math.max(2, (r.count / most) * 400);
    chart.append(svgEl("text", { x: 150, y: i * row + 17, "text-anchor": "end" }, r.reason.replaceAll("_", " ")));
    const bar = svgEl("rect", { x: 158, y: i * row + 5, width, height: 16, rx: 3, fill: "#4f46e5" });
    bar.append(svgEl("title", {}, `${r.reason}: ${r.count}`));
    chart.append(bar, svgEl("text", { x: 164 + width, y: i * row + 17 }, String(r.count)));
  });
  box.append(chart);
}

function topics(list) {
  const body = $("topics").tBodies[0];
  body.replaceChildren();
  // Least deflected first, among topics with enough contacts to say.
  const ranked = [...list].sort((a, b) => (a.deflection_rate ?? 0) - (b.deflection_rate ?? 0) || b.contacts - a.contacts);
  for (const t of ranked.slice(0, 10)) {
    const row = el("tr");
    row.append(
      el("td", t.article === "" ? "(no article found)" : t.article),
      el("td", String(t.contacts), { class: "num" }),
      el("td", percent(t.deflection_rate), { class: "num" }),
      el("td", String(t.escalated), { class: "num" }),
      el("td", percent(t.helpful_rate), { class: "num" }),
      el("td", t.csat_mean == null ? "–" : t.csat_mean.toFixed(1), { class: "num" }),
    );
    body.append(row);
  }
}

function unanswered(list) {
  const box = $("unanswered");
  box.replaceChildren();
  if (list.length === 0) {
    box.append(el("li", "Nothing: every question got an answer that helped.", { class: "empty" }));
    return;
  }
  for (const topic of list.slice(0, 10)) {
    const item = el("li");
    const why = [topic.no_answer && `${topic.no_answer} unanswered`, topic.not_helpful && `${topic.not_helpful} not helped`].filter(Boolean);
    item.append(el("strong", topic.label), el("span", `${topic.count} asked · ${why.join(", ")}`, { class: "count" }));
    const examples = el("ul", undefined, { class: "examples" });
    for (const example of topic.examples.slice(1, 4)) examples.append(el("li", `“${example}”`));
    item.append(examples);
    box.append(item);
  }
}

function churn(customers) {
  const body = $("churn").tBodies[0];
  body.replaceChildren();
  if (customers.length === 0) {
    const row = el("tr");
    row.append(el("td", "Nobody is contacting support more than usual.", { colspan: "6", class: "empty" }));
    body.append(row);
    return;
  }
  for (const c of customers.slice(0, 10)) {
    const about = [...new Set(c.topics.map((t) => t || "(no article found)"))].join(", ");
    const row = el("tr");
    row.append(
      el("td", c.conversation),
      el("td", String(c.recent_contacts), { class: "num" }),
      el("td", c.usual_per_week.toFixed(2), { class: "num" }),
      el("td", `${c.jump.toFixed(1)}×`, { class: "num" }),
      el("td", c.value == null ? "–" : String(c.value), { class: "num" }),
      el("td", about),
    );
    body.append(row);
  }
}

const NAMES = { stripe: "Stripe (billing)", hubspot: "HubSpot (CRM)", linear: "Linear (bugs)", connector: "Your connector" };
const when = (ms) => (ms == null ? "–" : `${new Date(ms).toISOString().slice(0, 16).replace("T", " ")} UTC`);

/** Each integration and how it last went: a failing one says why. */
function integrations(list) {
  const body = $("integrations").tBodies[0];
  body.replaceChildren();
  if (list.length === 0) {
    const row = el("tr");
    row.append(el("td", "None set up (see the integrations guide).", { colspan: "4", class: "empty" }));
    body.append(row);
    return;
  }
  for (const i of list) {
    const failing = i.last_error != null;
    const row = el("tr", undefined, { "data-integration": i.kind });
    row.append(
      el("td", NAMES[i.kind] ?? i.kind),
      el("td", failing ? "Failing" : i.last_ok_at == null ? "Not used yet" : "Working", failing ? { class: "bad" } : {}),
      el("td", when(i.last_ok_at)),
      el("td", failing ? `${i.last_error} (${when(i.last_error_at)})` : "–"),
    );
    body.append(row);
  }
}

async function proposals() {
  const list = $("proposals");
  const { proposals: pending } = await (await api("/proposals")).json();
  list.replaceChildren();
  if (pending.length === 0) {
    list.append(el("li", "Nothing to approve.", { class: "empty" }));
    return;
  }
  for (const p of pending) {
    const item = el("li", undefined, { "data-proposal": p.id });
    if (p.kind === "phrasing") {
      item.append(el("div", "New phrasing", { class: "kind" }), el("div", `For article ${p.article}:`), el("blockquote", p.question));
    } else {
      item.append(el("div", "New article", { class: "kind" }), el("strong", p.article.title), el("blockquote", p.article.body));
    }
    const actions = el("div", undefined, { class: "actions" });
    for (const [label, action, style] of [["Approve", "approve", ""], ["Reject", "reject", "secondary"]]) {
      const button = el("button", label, { type: "button", class: style });
      button.addEventListener("click", async () => {
        button.disabled = true;
        try {
          await api(`/proposals/${encodeURIComponent(p.id)}/${action}`, { method: "POST" });
          say(action === "approve" ? "Approved: the bot knows it now." : "Rejected.");
          await proposals();
        } catch (error) {
          say(error.message, true);
          button.disabled = false;
        }
      });
      actions.append(button);
    }
    item.append(actions);
    list.append(item);
  }
}

function say(text, error = false) {
  $("status").textContent = text;
  $("status").classList.toggle("error", error);
}

async function show() {
  say("Loading…");
  const query = `?from=${range.from}&to=${range.to}`;
  const report = await (await api(`/metrics${query}&hours=${range.hours}`)).json();
  tiles(report.total);
  const days = report.days.map((d) => d.day);
  lineChart($("deflection"), "Deflection rate by channel", days, channelSeries(report, (f) => f.deflection_rate), {
    max: 1,
    format: percent,
  });
  const hours = channelSeries(report, (f) => (f.human_resolution_s.p50 == null ? null : f.human_resolution_s.p50 / 3600));
  const longest = Math.max(1, ...hours.flatMap((s) => s.values.filter((v) => v != null)));
  lineChart($("resolution"), "Time to resolve with a person by channel, hours", days, hours, {
    max: Math.ceil(longest),
    format: (v) => `${v.toFixed(1)} h`,
  });
  const csat = [{ name: "all", values: report.days.map((d) => d.total.csat_mean) }];
  lineChart($("csat"), "Mean customer rating per day", days, csat, { max: 5, format: (v) => v.toFixed(1) });
  reasons(report.escalation_reasons);
  topics(report.topics);
  unanswered((await (await api(`/metrics/unanswered${query}`)).json()).topics);
  churn((await (await api("/metrics/churn")).json()).customers);
  integrations((await (await api("/integrations")).json()).integrations);
  await proposals();
  $("board").hidden = false;
  const clock = report.business_hours ? `; times within opening hours, ${report.business_hours}` : "";
  say(`${report.from} to ${report.to} (UTC)${clock}`);
}

async function downloadCsv() {
  try {
    const blob = await (await api(`/metrics?from=${range.from}&to=${range.to}&hours=${range.hours}&format=csv`)).blob();
    const link = el("a", undefined, { href: URL.createObjectURL(blob), download: `threadline-${site}-${range.from}-${range.to}.csv` });
    link.click();
    URL.revokeObjectURL(link.href);
  } catch (error) {
    say(error.message, true);
  }
}

function start() {
  const form = $("signin");
  const params = new URLSearchParams(location.search);
  form.site.value = params.get("site") ?? sessionStorage.getItem("threadline.site") ?? "";
  form.key.value = sessionStorage.getItem("threadline.key") ?? "";
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    site = form.site.value.trim();
    key = form.key.value.trim();
    const days = Number(form.days.value);
    const to = new Date();
    const from = new Date(to.getTime() - (days - 1) * 86_400_000);
    range = { from: from.toISOString().slice(0, 10), to: to.toISOString().slice(0, 10), hours: form.hours.value };
    try {
      await show();
      sessionStorage.setItem("threadline.site", site);
      sessionStorage.setItem("threadline.key", key);
    } catch (error) {
      $("board").hidden = true;
      say(error.message, true);
    }
  });
  $("csv").addEventListener("click", downloadCsv);
  if (form.site.value && form.key.value) form.requestSubmit();
}

start();
