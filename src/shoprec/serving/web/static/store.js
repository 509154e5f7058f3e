// The storefront: every click sends a real event through the public API, then the feed reloads.
"use strict";
const $ = (id) => document.getElementById(id);
const state = { user: null, cart: [], titles: {} };

async function api(path, options) {
  const r = await apiFetch(path, options);
  if (!r.ok) throw new Error(`${r.status} ${await r.text()}`);
  return r.json();
}

async function send(type, itemId, extra) {
  const ev = { user_id: state.user, type, item_id: itemId || "", ...(extra || {}) };
  await api("/v1/events", {
    method: "POST", headers: { "content-type": "application/json" },
    body: JSON.stringify({ events: [ev] }),
  });
}

async function title(itemId) {
  if (!state.titles[itemId]) {
    const it = await api(`/v1/items/${encodeURIComponent(itemId)}`);
    state.titles[itemId] = it;
  }
  return state.titles[itemId];
}

function card(item, details, onOpen) {
  const li = document.createElement("li");
  li.className = "item";
  li.dataset.itemId = item.item_id;
  const b = document.createElement("button");
  b.type = "button";
  b.className = "open";
  b.textContent = details.title || item.item_id;
  b.addEventListener("click", onOpen);
  const meta = document.createElement("p");
  meta.className = "meta";
  const cat = details.derived_category || (details.category || []).slice(-1)[0] || "";
  meta.textContent = [details.price != null ? `$${details.price.toFixed(2)}` : "", cat].filter(Boolean).join(" · ");
  const reasons = document.createElement("ul");
  reasons.className = "reasons";
  for (const r of item.reasons || []) {
    const x = document.createElement("li");
    x.textContent = r;
    reasons.appendChild(x);
  }
  li.append(b, meta, reasons);
  return li;
}

async function renderList(target, items) {
  const details = await Promise.all(items.map((it) => title(it.item_id)));
  target.replaceChildren(...items.map((it, k) => card(it, details[k], () => openProduct(it.item_id))));
}

async function loadFeed() {
  $("who").textContent = state.user;
  const body = await api(`/v1/users/${encodeURIComponent(state.user)}/recommendations?n=12`);
  $("fallback").hidden = !body.fallback;
  $("fallback").textContent = body.fallback ? `Showing ${body.fallback}` : "";
  await renderList($("feed"), body.items);
  api("/v1/feedback", {
    method: "POST", headers: { "content-type": "application/json" },
    body: JSON.stringify({ user_id: state.user, impressions: body.items.map((i) => i.item_id) }),
  }).catch(() => {});
  const prof = await api(`/v1/users/${encodeURIComponent(state.user)}/profile?top=8`);
  $("interests").replaceChildren(...prof.interests.filter((t) => t.weight >= 0.01).map((t) => {
    const li = document.createElement("li");
    li.textContent = `${t.tag.replace(/^[a-z]+:/, "")} (${Math.round(t.weight * 100)}%)`;
    return li;
  }));
  document.body.dataset.feedVersion = String(Number(document.body.dataset.feedVersion || 0) + 1);
}

async function openProduct(itemId) {
  const fromFeed = [...$("feed").children].some((li) => li.dataset.itemId === itemId);
  if (fromFeed) {
    api("/v1/feedback", {
      method: "POST", headers: { "content-type": "application/json" },
      body: JSON.stringify({ user_id: state.user, clicks: [itemId] }),
    }).catch(() => {});
  }
  await send("view", itemId);
  const it = await title(itemId);
  $("product").hidden = false;
  $("product").dataset.itemId = itemId;
  $("product-title").textContent = it.title || itemId;
  $("product-meta").textContent = [it.price != null ? `$${it.price.toFixed(2)}` : "", it.brand, it.derived_category || (it.category || []).join(" > ")].filter(Boolean).join(" · ");
  $("product-desc").textContent = it.description || "";
  $("product-sentiment").textContent = "";
  $("review-status").textContent = "";
  showSentiment(itemId);
  const sim = await api(`/v1/items/${encodeURIComponent(itemId)}/similar?n=6`);
  await renderList($("similar"), sim.items);
  $("product").focus();
  await loadFeed();
}

// The product's review line: the share of positive reviews and the model that scored them.
async function showSentiment(itemId) {
  const s = await apiFetch(`/v1/items/${encodeURIComponent(itemId)}/sentiment`)
    .then((r) => (r.ok ? r.json() : null)).catch(() => null);
  if ($("product").dataset.itemId !== itemId) return;  // another product was opened meanwhile
  const line = s && s.count ? `${Math.round(100 * s.positive)}% of ${s.count} reviewers are positive` : "";
  $("product-sentiment").textContent = line && s.model ? `${line} (${s.model} sentiment model)` : line;
  $("product-sentiment").dataset.count = String(s ? s.count : 0);
}

// A shopper's review: sent as a review event (scored on arrival), its own label shown at once.
async function postReview(e) {
  e.preventDefault();
  const itemId = $("product").dataset.itemId;
  const text = $("review-text").value.trim();
  if (!itemId || !text) return;
  const status = $("review-status");
  status.textContent = "Posting…";
  const eventId = `web-review-${state.user}-${itemId}-${Date.now()}`;
  try {
    await send("review", itemId, { text, event_id: eventId });
  } catch (err) {
    status.textContent = `Not posted: ${err.message}`;
    return;
  }
  $("review-text").value = "";
  const r = await apiFetch("/v1/sentiment", {
    method: "POST", headers: { "content-type": "application/json" },
    body: JSON.stringify({ texts: [text] }),
  });
  const body = await r.json().catch(() => ({}));
  status.textContent = r.ok
    ? `Thanks: your review reads ${body.results[0].label} (${body.model} sentiment model).`
    : `Review posted; ${body.error || "sentiment unavailable"}.`;
  await showSentiment(itemId);
}

function renderCart() {
  $("cart-count").textContent = String(state.cart.length);
  $("cart-items").replaceChildren(...state.cart.map((id) => {
    const li = document.createElement("li");
    li.textContent = (state.titles[id] && state.titles[id].title) || id;
    return li;
  }));
}

async function chooseShopper(user) {
  state.user = user;
  state.cart = [];
  renderCart();
  $("results-box").hidden = true;
  $("product").hidden = true;
  await loadFeed();
}

// absent once the shop configures keys: the page then shows one shopper (see key.js)
if ($("use-shopper")) $("use-shopper").addEventListener("click", () => {
  const v = $("new-shopper").value.trim();
  if (v) chooseShopper(v);
});
$("shopper").addEventListener("change", (e) => chooseShopper(e.target.value));
$("add-to-cart").addEventListener("click", async () => {
  const id = $("product").dataset.itemId;
  await send("add_to_cart", id);
  state.cart.push(id);
  renderCart();
  await loadFeed();
});
$("review-form").addEventListener("submit", postReview);
$("cart-button").addEventListener("click", () => { $("cart").hidden = !$("cart").hidden; });
$("buy").addEventListener("click", async () => {
  for (const id of state.cart) await send("purchase", id);
  state.cart = [];
  renderCart();
  await loadFeed();
});
$("search-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const q = $("q").value.trim();
  if (!q) return;
  await send("search", "", { query: q });
  const body = await api(`/v1/search?q=${encodeURIComponent(q)}&user_id=${encodeURIComponent(state.user)}&n=8`);
  $("results-box").hidden = false;
  await renderList($("results"), body.items);
});
$("assistant-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const q = $("question").value.trim();
  if (!q) return;
  const add = (who, text) => {
    const li = document.createElement("li");
    li.className = who;
    li.textContent = text;
    $("chat").appendChild(li);
  };
  add("you", q);
  try {
    const a = await api("/v1/assistant", {
      method: "POST", headers: { "content-type": "application/json" },
      body: JSON.stringify({ user_id: state.user, question: q }),
    });
    add("bot", a.answer);
  } catch (err) {
    add("bot", "The assistant is not available on this server yet.");
  }
});

const first = $("shopper").value || "guest";
chooseShopper(first).then(() => { document.body.dataset.ready = "1"; });
