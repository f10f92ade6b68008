"""`GET /`: one self-contained page to try the served models (sentiment, NER, chatbot), each answer's latency shown.

No external scripts, styles or fonts: the page works on a machine without internet, and it builds every piece of
model output with `textContent` (never `innerHTML`), so a text that looks like markup is shown, not run.
"""

from __future__ import annotations

TEMPLATE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>distilkit serve</title>
<style>
  body { font-family: system-ui, sans-serif; max-width: 46rem; margin: 2rem auto; padding: 0 1rem; color: #222; }
  section { border: 1px solid #ddd; border-radius: 8px; padding: 1rem; margin-bottom: 1rem; }
  textarea, input[type=text], input[type=password] {
    width: 100%; box-sizing: border-box; font: inherit; padding: .4rem;
  }
  button { margin-top: .5rem; font: inherit; padding: .3rem 1rem; }
  .out { margin-top: .6rem; min-height: 1.4rem; white-space: pre-wrap; }
  .latency { color: #666; font-size: .9em; }
  .error { color: #b00020; }
  mark { border-radius: 3px; padding: 0 2px; }
  mark small { font-size: .7em; font-weight: bold; margin-left: 2px; }
  .log p { margin: .3rem 0; }
  .log .you { text-align: right; }
  [hidden] { display: none; }
</style>
</head>
<body>
<h1>distilkit serve</h1>
<section id="auth" __AUTH_HIDDEN__>
  <label>Bearer token <input id="token" type="password" autocomplete="off"></label>
</section>
<section id="sentiment" __CLASSIFY_HIDDEN__>
  <h2>Sentiment</h2>
  <form id="sentiment-form">
    <textarea id="sentiment-text" rows="2">A gripping, beautifully acted film.</textarea>
    <button id="sentiment-go" type="submit">Classify</button>
  </form>
  <div id="sentiment-out" class="out"></div>
  <div id="sentiment-latency" class="latency"></div>
</section>
<section id="ner" __NER_HIDDEN__>
  <h2>Named entities</h2>
  <form id="ner-form">
    <input id="ner-text" type="text" value="Maria Lopez joined Acme Corp in London last March.">
    <button id="ner-go" type="submit">Find entities</button>
  </form>
  <div id="ner-out" class="out"></div>
  <div id="ner-latency" class="latency"></div>
</section>
<section id="chat" __CHAT_HIDDEN__>
  <h2>Support chatbot</h2>
  <div id="chat-log" class="log"></div>
  <form id="chat-form">
    <input id="chat-text" type="text" placeholder="Ask something, e.g. where is my order?">
    <button id="chat-go" type="submit">Send</button>
  </form>
  <div id="chat-latency" class="latency"></div>
</section>
<p><a href="/docs">API docs</a> · <a href="/metrics">metrics</a></p>
<script>
"use strict";
const COLOURS = ["#ffe08a", "#b5e3ff", "#c8f0c0", "#f7c6e0", "#e0d4ff"];
const TYPES = {};
function colour(type) {
  if (!(type in TYPES)) TYPES[type] = COLOURS[Object.keys(TYPES).length % COLOURS.length];
  return TYPES[type];
}
async function call(path, body) {
  const headers = {"Content-Type": "application/json"};
  const token = document.getElementById("token").value.trim();
  if (token) headers["Authorization"] = "Bearer " + token;
  const started = performance.now();
  const response = await fetch(path, {method: "POST", headers, body: JSON.stringify(body)});
  const data = await response.json().catch(() => ({detail: response.statusText}));
  const roundTrip = performance.now() - started;
  if (!response.ok) {
    const detail = typeof data.detail === "string" ? data.detail : JSON.stringify(data.detail);
    throw new Error(response.status + ": " + detail);
  }
  return [data, roundTrip];
}
function showLatency(id, data, roundTrip) {
  document.getElementById(id).textContent =
    "server " + data.latency_ms.toFixed(1) + " ms · round trip " + roundTrip.toFixed(1) + " ms";
}
function showError(id, error) {
  const out = document.getElementById(id);
  out.textContent = error.message;
  out.className = "out error";
}
function handle(formId, run) {
  document.getElementById(formId).addEventListener("submit", async (event) => {
    event.preventDefault();
    try { await run(); } catch (error) { run.onError(error); }
  });
}
const classify = async () => {
  const out = document.getElementById("sentiment-out");
  const [data, roundTrip] = await call("/v1/classify", {text: document.getElementById("sentiment-text").value});
  const r = data.results[0];
  out.className = "out";
  out.textContent = r.label + " (" + (100 * r.score).toFixed(1) + "%)" + (r.truncated ? " · text truncated" : "");
  showLatency("sentiment-latency", data, roundTrip);
};
classify.onError = (e) => showError("sentiment-out", e);
handle("sentiment-form", classify);
const ner = async () => {
  const text = document.getElementById("ner-text").value;
  const out = document.getElementById("ner-out");
  const [data, roundTrip] = await call("/v1/ner", {text});
  out.className = "out";
  out.replaceChildren();
  const r = data.results[0];
  // entities is null for a tagger whose tags are not IOB2 (POS): then each word is shown with its tag.
  const spans = r.entities ?? r.words.map((w) => ({type: w.tag, start: w.start, end: w.end}));
  let at = 0;
  for (const e of spans) {
    out.append(document.createTextNode(text.slice(at, e.start)));
    const mark = document.createElement("mark");
    mark.style.background = colour(e.type);
    mark.dataset.type = e.type;
    mark.append(document.createTextNode(text.slice(e.start, e.end)));
    const label = document.createElement("small");
    label.textContent = e.type;
    mark.append(label);
    out.append(mark);
    at = e.end;
  }
  out.append(document.createTextNode(text.slice(at)));
  showLatency("ner-latency", data, roundTrip);
};
ner.onError = (e) => showError("ner-out", e);
handle("ner-form", ner);
function say(who, text, extra) {
  const p = document.createElement("p");
  p.className = who;
  p.textContent = text;
  if (extra) {
    const small = document.createElement("small");
    small.className = "latency";
    small.textContent = " " + extra;
    p.append(small);
  }
  document.getElementById("chat-log").append(p);
}
const chat = async () => {
  const input = document.getElementById("chat-text");
  const message = input.value;
  if (!message.trim()) return;
  say("you", message);
  input.value = "";
  const [data, roundTrip] = await call("/v1/chat", {message});
  const why = data.fallback ? "fallback" : data.intent;
  say("bot", data.response, "[" + why + ", score " + data.score.toFixed(2) + "]");
  showLatency("chat-latency", data, roundTrip);
};
chat.onError = (e) => say("bot error", e.message);
handle("chat-form", chat);
</script>
</body>
</html>
"""


def render_page(tasks: list[str], chat: bool, needs_token: bool) -> str:
    """The page with the sections of the tasks this server holds shown, the others hidden."""
    hidden = {
        "__AUTH_HIDDEN__": not needs_token,
        "__CLASSIFY_HIDDEN__": "sequence-classification" not in tasks,
        "__NER_HIDDEN__": "token-classification" not in tasks,
        "__CHAT_HIDDEN__": not chat,
    }
    page = TEMPLATE
    for marker, hide in hidden.items():
        page = page.replace(marker, "hidden" if hide else "")
    return page
