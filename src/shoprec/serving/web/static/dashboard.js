"use strict";
const $ = (id) => document.getElementById(id);
const pct = (x) => (x == null ? "–" : `${(100 * x).toFixed(1)}%`);

async function refresh() {
  const s = await (await apiFetch("/v1/stats")).json();
  $("events-per-s").textContent = s.events_per_s.toFixed(1);
  $("events-minute").textContent = String(s.events_last_minute);
  const feed = s.latency_ms["GET /v1/users/{user_id}/recommendations"];
  $("latency").textContent = feed ? `${feed.p50.toFixed(1)} / ${feed.p99.toFixed(1)}` : "–";
  $("ctr").textContent = pct(s.ctr);
  $("clicks").textContent = String(s.clicks);
  $("impressions").textContent = String(s.impressions);
  $("coverage").textContent = pct(s.coverage);
  $("fallback-rate").textContent = pct(s.fallback_rate);
  $("requests").textContent = String(s.recommendation_requests);
  $("items").textContent = String(s.items);
  $("shoppers").textContent = String(s.shoppers);
  $("model").textContent = s.model_version;
  $("routes").replaceChildren(...Object.entries(s.latency_ms).map(([route, r]) => {
    const tr = document.createElement("tr");
    for (const v of [route, r.count, r.p50.toFixed(2), r.p90.toFixed(2), r.p99.toFixed(2)]) {
      const td = document.createElement("td");
      td.textContent = String(v);
      tr.appendChild(td);
    }
    return tr;
  }));
  if (s.falling_sentiment.length) {
    $("falling").replaceChildren(...s.falling_sentiment.map((f) => {
      const li = document.createElement("li");
      li.textContent = `${f.title || f.item_id}: net sentiment ${f.drift.toFixed(2)} over the last 4 weeks (${f.reviews} reviews)`;
      return li;
    }));
  }
  document.body.dataset.refreshed = String(Number(document.body.dataset.refreshed || 0) + 1);
}
refresh();
setInterval(refresh, 2000);
