// gateway-fetch.js: a fetch wrapper for APIs behind the gateway (SPEC §6).
//
// ES module, no dependencies. It keeps the current access token, sends it as
// `Authorization: Bearer ...`, and after every response adopts the token the
// gateway puts in its refresh header (default X-Refreshed-Token) when the
// old one was close to expiry. A 401 that means "this token will not do"
// (token_expired, invalid_token, token_revoked, missing_token) goes to the
// onLoginRequired hook, after the retries described at `createGatewayFetch`.
//
//   import { createGatewayFetch } from "./gateway-fetch.js";
//   const api = createGatewayFetch({ token, storage: sessionStorage,
//                                    onLoginRequired: () => location.assign("/login") });
//   const res = await api.fetch("/api/profile");

/** The gateway's default `refresh.header`. */
export const DEFAULT_REFRESH_HEADER = "X-Refreshed-Token";

/** 401 `error` values (SPEC §5) after which the token cannot be used again. */
export const LOGIN_ERRORS = Object.freeze(["token_expired", "invalid_token", "token_revoked", "missing_token"]);

/**
 * `exp` (Unix seconds) of a JWT, read without verifying it (the gateway
 * verifies; the client only needs to know which of two tokens is newer and
 * what to display). null when the token is not a readable JWT.
 */
export function tokenExpiry(token) {
  const claims = decodeClaims(token);
  return claims && typeof claims.exp === "number" ? claims.exp : null;
}

/** The payload of a compact JWS as an object, or null. Not verified. */
export function decodeClaims(token) {
  if (typeof token !== "string") return null;
  const parts = token.split(".");
  if (parts.length !== 3) return null;
  try {
    const b64 = parts[1].replace(/-/g, "+").replace(/_/g, "/");
    const bin = atob(b64 + "===".slice((b64.length + 3) % 4));
    const bytes = Uint8Array.from(bin, (c) => c.charCodeAt(0));
    const claims = JSON.parse(new TextDecoder().decode(bytes));
    return claims && typeof claims === "object" ? claims : null;
  } catch {
    return null;
  }
}

/**
 * Holds the current token: in memory, and mirrored to `storage` (e.g.
 * sessionStorage, so a reload of the tab keeps the session) when given.
 * Shared by the fetch wrapper and the axios interceptors.
 */
export class TokenStore {
  constructor({ token = null, storage = null, storageKey = "gateway.token", onTokenChange = null } = {}) {
    this.storage = storage;
    this.storageKey = storageKey;
    this.onTokenChange = onTokenChange;
    this.token = token ?? this.#load();
    if (token) this.#save(token);
  }

  get() {
    return this.token;
  }

  /** Replaces the token (null forgets it). */
  set(token) {
    const previous = this.token;
    this.token = token || null;
    this.#save(this.token);
    if (previous !== this.token && this.onTokenChange) this.onTokenChange(this.token, previous);
  }

  /**
   * Adopts `fresh`, the refreshed token of a response to a request sent with
   * `sent`. Requests overlap, so a late response may carry a refresh of a
   * token that is no longer current; it is taken only when it is not older
   * than the current one (tokens reissued from one token in one 30 s
   * quantum are byte-identical, so parallel responses agree anyway).
   * Returns true when the token changed.
   */
  adopt(fresh, sent) {
    if (!fresh || fresh === this.token) return false;
    if (sent !== this.token && this.token) {
      const now = tokenExpiry(this.token);
      const next = tokenExpiry(fresh);
      if (now !== null && (next === null || next < now)) return false;
    }
    this.set(fresh);
    return true;
  }

  #load() {
    try {
      return this.storage ? this.storage.getItem(this.storageKey) : null;
    } catch {
      return null; // storage disabled (private mode, sandboxed frame)
    }
  }

  #save(token) {
    if (!this.storage) return;
    try {
      if (token) this.storage.setItem(this.storageKey, token);
      else this.storage.removeItem(this.storageKey);
    } catch {
      // Quota or disabled storage: the in-memory copy still works.
    }
  }
}

/**
 * The `error` of a gateway 401 answer: from the JSON body
 * `{"error": "..."}`, else from `WWW-Authenticate` (readable cross-origin
 * only when exposed), else "missing_token" for a bare `Bearer realm=...`
 * challenge. null when neither says.
 */
export async function authError(response) {
  try {
    const body = await response.clone().json();
    if (body && typeof body.error === "string") return body.error;
  } catch {
    // not JSON: try the header
  }
  return errorFromChallenge(response.headers.get("WWW-Authenticate"));
}

/** `error="..."` of a Bearer challenge (RFC 6750 §3), "missing_token" without one. */
export function errorFromChallenge(challenge) {
  if (!challenge || !/^\s*bearer\b/i.test(challenge)) return null;
  const m = /\berror="([^"]*)"/i.exec(challenge);
  return m ? m[1] : "missing_token";
}

/** True when `url` should get the token: by default same-origin URLs only. */
function sameOrigin(url) {
  const here = globalThis.location;
  if (!here || !here.origin || here.origin === "null") return true;
  return new URL(url, here.href).origin === here.origin;
}

/**
 * A fetch that carries and renews the gateway token.
 *
 * Options:
 * - token: the initial token (else the one in storage, if any).
 * - storage, storageKey: where to mirror the token (e.g. sessionStorage).
 * - header: the gateway's `refresh.header` (default X-Refreshed-Token).
 * - onLoginRequired({error, status, response, url}): called once per failed
 *   request when the gateway answers 401 with one of LOGIN_ERRORS and
 *   nothing below could fix it. The response is still returned.
 * - renewToken(): optional async function returning a new token or null,
 *   tried once on `token_expired` before onLoginRequired (e.g. a POST to
 *   the gateway's /auth/refresh with a refresh token, SPEC §7). Concurrent
 *   401s share one call.
 * - onTokenChange(token, previous): after every change.
 * - attachTo(url): whether a URL gets the token (default: same origin only;
 *   never send a bearer token to third parties).
 * - fetch: the underlying fetch (default globalThis.fetch).
 *
 * Retries: a request that fails with 401 after it was sent with a token that
 * is no longer current (a parallel response already brought a newer one) is
 * sent once more with the current token; so is one whose token renewToken
 * replaced. Bodies that are streams cannot be replayed and are not retried.
 *
 * Returns { fetch(input, init), store, getToken(), setToken(token) }.
 */
/**
 * Wraps the optional `renewToken` hook so that concurrent 401s share one
 * call: every caller gets the same promise until it settles (a failure
 * resolves to null).
 */
export function renewSingleFlight(renewToken) {
  let renewing = null;
  return function renewOnce() {
    if (!renewToken) return Promise.resolve(null);
    if (!renewing) {
      renewing = Promise.resolve()
        .then(() => renewToken())
        .catch(() => null)
        .finally(() => { renewing = null; });
    }
    return renewing;
  };
}

export function createGatewayFetch(options = {}) {
  const store = options.store ?? new TokenStore(options);
  const headerName = options.header ?? DEFAULT_REFRESH_HEADER;
  const attachTo = options.attachTo ?? sameOrigin;
  const baseFetch = options.fetch ?? ((...args) => globalThis.fetch(...args));
  const renewOnce = renewSingleFlight(options.renewToken);

  async function send(input, init, token) {
    const request = new Request(input, init);
    if (token && attachTo(request.url)) request.headers.set("Authorization", "Bearer " + token);
    const response = await baseFetch(request);
    // Every response: the gateway adds the header to any status but 401/403.
    store.adopt(response.headers.get(headerName), token);
    return response;
  }

  async function gatewayFetch(input, init = undefined) {
    // A Request's body can be read once; keep a copy for a retry.
    const replayable = !(init && init.body instanceof ReadableStream);
    const spare = replayable && input instanceof Request ? input.clone() : null;
    const token = store.get();
    const response = await send(input, init, token);
    if (response.status !== 401) return response;
    const url = new URL(input instanceof Request ? input.url : String(input), globalThis.location?.href).href;
    if (!attachTo(url)) return response;

    const error = await authError(response);
    if (!LOGIN_ERRORS.includes(error)) return response;

    let retryToken = null;
    if (replayable && store.get() && store.get() !== token) {
      retryToken = store.get();
    } else if (replayable && error === "token_expired") {
      const renewed = await renewOnce();
      if (renewed) {
        store.set(renewed);
        retryToken = renewed;
      } else if (store.get() && store.get() !== token) {
        retryToken = store.get(); // another request renewed meanwhile
      }
    }
    if (retryToken) {
      const again = await send(spare ?? input, init, retryToken);
      if (again.status !== 401) return again;
      const againError = await authError(again);
      if (LOGIN_ERRORS.includes(againError)) loginRequired(againError, again, url);
      return again;
    }
    loginRequired(error, response, url);
    return response;
  }

  function loginRequired(error, response, url) {
    if (options.onLoginRequired) options.onLoginRequired({ error, status: response.status, response, url });
  }

  return {
    fetch: gatewayFetch,
    store,
    getToken: () => store.get(),
    setToken: (token) => store.set(token),
  };
}
