// Once the shop configures API keys (SHOPREC_*_KEYS), the pages' calls need a credential. The
// storefront carries its shopper's own token when the shop has a token secret (a meta tag the
// server writes: that shopper's data only, short-lived), sent as Authorization: Bearer.
// Otherwise a key is asked for on the first 401, kept for the tab (sessionStorage) and sent as
// X-API-Key. The server never writes a key into a page.
"use strict";
const API_KEY_ITEM = "shoprec-api-key";
const SHOPPER_TOKEN = (document.querySelector('meta[name="shopper-token"]') || {}).content || "";
let askingForKey = null;

function askForKey() {
  askingForKey = askingForKey || Promise.resolve().then(() => {
    const key = (window.prompt("This shop's API needs a key (X-API-Key):", "") || "").trim();
    if (key) sessionStorage.setItem(API_KEY_ITEM, key);
    askingForKey = null;  // a later refusal (a key of too low a level) asks again
    return key || null;
  });
  return askingForKey;
}

async function apiFetch(path, options = {}) {
  const headers = { ...(options.headers || {}) };
  if (SHOPPER_TOKEN) headers.authorization = `Bearer ${SHOPPER_TOKEN}`;
  const withKey = (key) => fetch(path, key
    ? { ...options, headers: { ...headers, "x-api-key": key } }
    : { ...options, headers });
  const used = sessionStorage.getItem(API_KEY_ITEM);
  const r = await withKey(used);
  if (r.status !== 401) return r;
  const stored = sessionStorage.getItem(API_KEY_ITEM);  // another call may have asked meanwhile
  const key = stored && stored !== used ? stored : await askForKey();
  return key && key !== used ? withKey(key) : r;
}
