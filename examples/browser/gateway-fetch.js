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
//
// With the gateway's sessions (SPEC §7, `[sessions] cookie = "gw_refresh"`),
// `session: true` adds login/logout and renews an expired access token with
// one cookie-carried POST /auth/refresh shared by every waiting request:
//
//   const api = createGatewayFetch({ session: true, onLoginRequired: showLoginForm });
//   await api.login({ user, password });        // POST /login
//   const res = await api.fetch("/api/profile");

/** The gateway's default `refresh.header`. */
export const DEFAULT_REFRESH_HEADER = "X-Refreshed-Token";

/** The gateway's default `sessions.path` (SPEC §7): PATH refresh, PATH logout. */
export const DEFAULT_SESSION_PATH = "/auth/";

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

/**
 * At most one renewal per expired token: requests that met `token_expired`
 * with the same token share one promise, even one that has settled, so a
 * 401 that comes back after a refused refresh does not ask again (it goes
 * to onLoginRequired with the others). `renewOnce` is a single-flight
 * renewal (renewSingleFlight, or a session's refresh).
 */
export function renewalPerToken(renewOnce) {
  let last = null;
  return function renewFor(token) {
    if (!last || last.from !== token) last = { from: token, promise: renewOnce() };
    return last.promise;
  };
}

/** A login body: a plain object becomes a form (`user=...&password=...`); anything else is sent as it is. */
function loginBody(credentials) {
  if (credentials === null || credentials === undefined) return undefined;
  const plain = typeof credentials === "object" && Object.getPrototypeOf(credentials) === Object.prototype;
  return plain ? new URLSearchParams(credentials) : credentials;
}

/**
 * The browser side of the gateway's double-token sessions (SPEC §7): the
 * access token lives in `store` (memory, or whatever storage the store
 * mirrors to), the refresh token only in the gateway's HttpOnly cookie
 * (`[sessions] cookie`), which script can neither read nor leak. The
 * `X-Refresh-Token` header of the login answer is deliberately ignored.
 *
 * Options:
 * - store: the TokenStore to fill (required).
 * - header: the gateway's `refresh.header` (default X-Refreshed-Token),
 *   where the login answer carries the first access token.
 * - loginPath: the `issue_session` route (default "/login").
 * - sessionPath: the gateway's `sessions.path` (default "/auth/").
 * - fetch: the underlying fetch (default globalThis.fetch); it is always
 *   given a Request.
 *
 * Returns:
 * - login(credentials, init): POST to loginPath (a plain object is sent as
 *   a form; init.headers may add headers); on a 2xx the access token is adopted
 *   from `header`. Returns the response.
 * - refresh(): POST sessionPath + "refresh" with an empty body and
 *   `credentials: "include"` (the cookie is the refresh token); adopts the
 *   new access token and returns it, or null when the gateway refused
 *   (400 invalid_grant: no, expired, reused or revoked session). Single
 *   flight: callers that come while one is in flight share its promise, so
 *   ten requests that all met `token_expired` cause one refresh. Also what a
 *   new tab or a reload calls to resume the session from the cookie.
 * - logout(): POST sessionPath + "logout" (by the cookie; by the access
 *   token when the cookie did not name a session); forgets the token.
 *   Returns the response (204 when the session is over).
 * - lastRefresh: { status, error } of the last refresh answer.
 */
export function createSession(options = {}) {
  const store = options.store;
  if (!store) throw new TypeError("createSession needs a store");
  const headerName = options.header ?? DEFAULT_REFRESH_HEADER;
  const loginPath = options.loginPath ?? "/login";
  const sessionPath = options.sessionPath ?? DEFAULT_SESSION_PATH;
  const baseFetch = options.fetch ?? ((...args) => globalThis.fetch(...args));
  const endpoint = (name) => new URL(name, new URL(sessionPath, globalThis.location?.href)).href;

  const session = {
    lastRefresh: null,

    async login(credentials, init = {}) {
      const response = await baseFetch(new Request(loginPath, {
        method: "POST", body: loginBody(credentials), headers: init.headers,
        credentials: "include", cache: "no-store",
      }));
      if (response.ok) {
        const token = response.headers.get(headerName);
        if (token) store.set(token);
      }
      return response;
    },

    refresh: renewSingleFlight(async () => {
      // No body: the gateway takes the refresh token from its cookie, and
      // rotates it with a new Set-Cookie shared by every tab of the site.
      const response = await baseFetch(new Request(endpoint("refresh"), {
        method: "POST", credentials: "include", cache: "no-store",
      }));
      let body = null;
      try { body = await response.json(); } catch { body = null; }
      session.lastRefresh = { status: response.status, error: body && typeof body.error === "string" ? body.error : null };
      if (response.status !== 200 || !body || typeof body.access_token !== "string") return null;
      store.set(body.access_token);
      return body.access_token;
    }),

    async logout() {
      const token = store.get();
      try {
        let response = await baseFetch(new Request(endpoint("logout"), {
          method: "POST", credentials: "include", cache: "no-store",
        }));
        // No cookie (or a stale one): name the session by its access token.
        if (response.status !== 204 && token) {
          response = await baseFetch(new Request(endpoint("logout"), {
            method: "POST", credentials: "include", cache: "no-store",
            headers: { Authorization: "Bearer " + token },
          }));
        }
        return response;
      } finally {
        store.set(null);
      }
    },
  };
  return session;
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
 * - session: true, or { loginPath, sessionPath }, for the gateway's
 *   sessions (see createSession): renewToken becomes the cookie refresh,
 *   and the result gains login(), logout() and refreshSession().
 * - onTokenChange(token, previous): after every change.
 * - attachTo(url): whether a URL gets the token (default: same origin only;
 *   never send a bearer token to third parties).
 * - fetch: the underlying fetch (default globalThis.fetch).
 *
 * Retries: a request that fails with 401 after it was sent with a token that
 * is no longer current (a parallel response already brought a newer one) is
 * sent once more with the current token; so is one whose token renewToken
 * replaced. Only `token_expired` calls renewToken; when it gives nothing
 * (the refresh was refused) every request waiting on it goes to
 * onLoginRequired. Bodies that are streams cannot be replayed and are not
 * retried.
 *
 * Returns { fetch(input, init), store, getToken(), setToken(token) }, plus
 * { session, login(credentials, init), logout(), refreshSession() } with
 * `session`.
 */
export function createGatewayFetch(options = {}) {
  const store = options.store ?? new TokenStore(options);
  const headerName = options.header ?? DEFAULT_REFRESH_HEADER;
  const attachTo = options.attachTo ?? sameOrigin;
  const baseFetch = options.fetch ?? ((...args) => globalThis.fetch(...args));
  const session = options.session ? createSession({ ...sessionOptions(options.session), store,
                                                    header: headerName, fetch: baseFetch }) : null;
  const renewFor = renewalPerToken(options.renewToken || !session ? renewSingleFlight(options.renewToken)
                                                                   : session.refresh);

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
      const renewed = await renewFor(token);
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

  const client = {
    fetch: gatewayFetch,
    store,
    getToken: () => store.get(),
    setToken: (token) => store.set(token),
  };
  if (session) {
    Object.assign(client, {
      session,
      login: (credentials, init) => session.login(credentials, init),
      logout: () => session.logout(),
      refreshSession: () => session.refresh(),
    });
  }
  return client;
}

/** `session: true` or an object of createSession options. */
export function sessionOptions(session) {
  return session === true ? {} : { loginPath: session.loginPath, sessionPath: session.sessionPath };
}
