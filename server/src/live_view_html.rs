//! The admin live view's page (protocol section 10): the newest exchanges
//! of this server and its gateway as a sequence diagram, newest at the
//! bottom, polled once a second from `/_admin/live/exchanges`. Everything
//! it needs is in this one page, served by the binary (no CDN); the
//! journals' text is put on the page as text, never as markup, since paths
//! and reasons come from whoever sent the requests.

/// The page a viewer gets.
pub const PAGE: &str = r#"<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<link rel="icon" href="data:,">
<title>Live exchanges · provisioning-server</title>
<style>
body { font-family: sans-serif; margin: 1rem; }
#lanes, .arrow { display: grid; grid-template-columns: repeat(3, 1fr); }
#lanes div { font-weight: bold; text-align: center; border-bottom: 2px solid #444; padding: .3rem; }
.arrow { margin: .15rem 0; cursor: pointer; }
.arrow span { display: block; border-bottom: 2px solid #36c; font-family: monospace; font-size: .85rem; padding: .1rem .4rem; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.arrow.refused span { border-color: #c33; }
.arrow .right::after { content: " ▶"; }
.arrow .left::before { content: "◀ "; }
#detail { white-space: pre-wrap; font-family: monospace; background: #f4f4f4; padding: .5rem; }
</style>
</head>
<body>
<h1>Live exchanges</h1>
<p id="status">Loading…</p>
<div id="lanes"><div>wizard / browser</div><div>provisioning-server</div><div>llm-gateway-mock</div></div>
<div id="arrows"></div>
<p>Click an arrow for its journal entry and, for the exchanges of the server and of the gateway since this view was first opened, its headers and bodies. Everything is masked before it is kept.</p>
<pre id="detail"></pre>
<script>
"use strict";
const LANES = { client: 1, server: 2, gateway: 3 };
let shown = "";

function arrowOf(entry, journal) {
  // Introspection is the gateway asking the server; anything else on the
  // server, and everything on the gateway, comes from the wizard or a browser.
  if (journal === "server" && entry.path.startsWith("/oauth/introspect")) {
    return { from: LANES.gateway, to: LANES.server };
  }
  return { from: LANES.client, to: LANES[journal] };
}

function label(entry) {
  let text = entry.method + " " + entry.path + " → " + entry.status;
  if (entry.credential) { text += " [" + entry.credential + "]"; }
  if (entry.verdict) { text += " " + entry.verdict; }
  if (entry.reason) { text += " (" + entry.reason + ")"; }
  return text;
}

// Newest at the bottom. The gateway passes its request id on to the
// introspection it asks for, so each introspection is drawn right under
// the gateway call it served; everything else is merged by time.
function ordered(answer) {
  const gateway = answer.gateway || [];
  const served = new Set(gateway.map(entry => entry.request_id));
  const inside = new Map();
  const merged = [];
  answer.server.forEach((entry, index) => {
    if (entry.path.startsWith("/oauth/introspect") && served.has(entry.request_id)) {
      if (!inside.has(entry.request_id)) { inside.set(entry.request_id, []); }
      inside.get(entry.request_id).push({ entry, journal: "server" });
    } else {
      merged.push({ entry, journal: "server", index });
    }
  });
  gateway.forEach((entry, index) => merged.push({ entry, journal: "gateway", index }));
  merged.sort((a, b) => a.entry.at - b.entry.at || (a.journal === b.journal ? a.index - b.index : (a.journal === "server" ? -1 : 1)));
  const rows = [];
  for (const row of merged) {
    rows.push(row);
    if (row.journal === "gateway" && inside.has(row.entry.request_id)) {
      rows.push(...inside.get(row.entry.request_id));
      inside.delete(row.entry.request_id);
    }
  }
  return rows;
}

function render(answer) {
  const rows = ordered(answer);
  const key = JSON.stringify(rows.map(row => [row.journal, row.entry.request_id, row.entry.status]));
  if (key === shown) { return; }
  shown = key;
  const arrows = document.getElementById("arrows");
  arrows.replaceChildren();
  for (const { entry, journal } of rows) {
    const { from, to } = arrowOf(entry, journal);
    const row = document.createElement("div");
    row.className = "arrow" + (entry.status >= 400 ? " refused" : "");
    row.dataset.journal = journal;
    const span = document.createElement("span");
    span.className = from < to ? "right" : "left";
    span.style.gridColumn = Math.min(from, to) + " / " + (Math.max(from, to) + 1);
    span.textContent = label(entry);
    row.appendChild(span);
    row.addEventListener("click", () => showDetail(entry, journal));
    arrows.appendChild(row);
  }
  const gateway = answer.gateway ? answer.gateway.length + " from the gateway" : "the gateway's journal is unreadable (" + (answer.gateway_error || "unknown") + ")";
  document.getElementById("status").textContent = answer.server.length + " exchange(s) from the server, " + gateway + "; refreshed every second.";
}

async function showDetail(entry, journal) {
  const detail = document.getElementById("detail");
  let text = journal + " journal\n" + JSON.stringify(entry, null, 2);
  const route = journal === "gateway" ? "/_admin/live/gateway/exchanges/" : "/_admin/live/exchanges/";
  const response = await fetch(route + encodeURIComponent(entry.request_id), { credentials: "same-origin", cache: "no-store" });
  if (response.status === 502) {
    const answer = await response.json().catch(() => ({}));
    detail.textContent = text + "\n\nThe gateway's details could not be read (" + ((answer.error && answer.error.message) || "unknown") + ").";
    return;
  }
  if (!response.ok) {
    detail.textContent = text + "\n\nNo headers or bodies kept for it (kept only from the moment someone opened this view, the newest 200).";
    return;
  }
  const exchange = await response.json();
  const headerLines = lines => lines.map(line => line.name + ": " + line.value).join("\n");
  text += "\n\nrequest headers\n" + headerLines(exchange.request_headers);
  text += "\n\nrequest body\n" + (exchange.request_body || "(none read)");
  text += "\n\nresponse headers\n" + headerLines(exchange.response_headers);
  text += "\n\nresponse body\n" + (exchange.response_body || "(empty)");
  detail.textContent = text;
}

async function refresh() {
  try {
    const response = await fetch("/_admin/live/exchanges", { credentials: "same-origin", cache: "no-store" });
    if (response.status === 401) {
      document.getElementById("status").textContent = "This view's session has ended: open a new admin link.";
      return;
    }
    render(await response.json());
  } catch (error) {
    document.getElementById("status").textContent = "The server does not answer (" + error + "); retrying.";
  }
  setTimeout(refresh, 1000);
}
refresh();
</script>
</body>
</html>
"#;

/// The page for a browser without a viewer cookie or with a spent link.
pub fn refused(message: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<link rel=\"icon\" href=\"data:,\">\n<title>Admin view refused</title>\n</head>\n<body>\n<h1>Admin view refused</h1>\n<p id=\"error\" role=\"alert\">{}</p>\n</body>\n</html>\n",
        crate::login_html::escape(message)
    )
}
