// axios-interceptor.js: the gateway token as an axios request/response
// interceptor pair (SPEC §6). ES module; needs no axios import itself: pass
// your instance.
//
//   import axios from "axios";
//   import { install } from "./axios-interceptor.js";
//   const api = axios.create({ baseURL: "/api" });
//   const gw = install(api, { token, storage: sessionStorage,
//                             onLoginRequired: () => location.assign("/login") });
//
// Same behaviour as gateway-fetch.js: Bearer on every request, the refreshed
// token adopted from every response (errors too: the gateway adds it to any
// status but 401/403), one retry when a parallel response already brought a
// newer token (or renewToken gave one), then onLoginRequired.
//
// With the gateway's sessions (SPEC §7), `session: true` adds login/logout
// (sent with fetch, not through the instance, so these interceptors never
// see them) and renews on `token_expired` with one cookie-carried
// POST /auth/refresh for every request that is waiting:
//
//   const gw = install(api, { session: true, onLoginRequired: showLoginForm });
//   await gw.login({ user, password });
//   const { data } = await api.get("/profile");

import { DEFAULT_REFRESH_HEADER, LOGIN_ERRORS, TokenStore, createSession, errorFromChallenge, renewSingleFlight,
         renewalPerToken, sessionOptions } from "./gateway-fetch.js";

// String keys, not symbols: axios's mergeConfig keeps only string keys when
// a config is sent again.
const SENT = "__gatewaySentToken";
const RETRIED = "__gatewayRetried";

/** A header of an axios response: AxiosHeaders (get) or a plain object (lower-case names). */
function responseHeader(headers, name) {
  if (!headers) return null;
  if (typeof headers.get === "function") {
    const v = headers.get(name);
    if (v != null) return String(v);
  }
  const lower = name.toLowerCase();
  for (const key of Object.keys(headers)) {
    if (key.toLowerCase() === lower && headers[key] != null) return String(headers[key]);
  }
  return null;
}

function setRequestHeader(config, name, value) {
  if (config.headers && typeof config.headers.set === "function") {
    config.headers.set(name, value);
  } else {
    config.headers = { ...(config.headers || {}), [name]: value };
  }
}

/** The `error` of a gateway 401: JSON body (object or text), else WWW-Authenticate. */
function errorOf(response) {
  let data = response.data;
  if (typeof data === "string") {
    try { data = JSON.parse(data); } catch { data = null; }
  }
  if (data && typeof data.error === "string") return data.error;
  return errorFromChallenge(responseHeader(response.headers, "WWW-Authenticate"));
}

function sameOrigin(config) {
  const here = globalThis.location;
  if (!here || !here.origin || here.origin === "null") return true;
  const base = config.baseURL ? new URL(config.baseURL, here.href).href : here.href;
  return new URL(config.url ?? "", base).origin === here.origin;
}

/**
 * Installs the interceptors on `axiosInstance`.
 *
 * Options as createGatewayFetch (token, storage, storageKey, header,
 * onLoginRequired({error, status, response, config}), renewToken, session,
 * onTokenChange, store, fetch: used by the session calls only), except
 * attachTo(config), which gets the axios request config (default: same
 * origin as the page, after baseURL).
 *
 * Returns { store, getToken(), setToken(token), eject() }, plus { session,
 * login(credentials, init), logout(), refreshSession() } with `session`.
 */
export function install(axiosInstance, options = {}) {
  const store = options.store ?? new TokenStore(options);
  const headerName = options.header ?? DEFAULT_REFRESH_HEADER;
  const attachTo = options.attachTo ?? sameOrigin;
  const session = options.session
    ? createSession({ ...sessionOptions(options.session), store, header: headerName, fetch: options.fetch })
    : null;
  const renewFor = renewalPerToken(options.renewToken || !session ? renewSingleFlight(options.renewToken)
                                                                   : session.refresh);

  const requestId = axiosInstance.interceptors.request.use((config) => {
    const token = store.get();
    config[SENT] = token;
    if (token && attachTo(config)) setRequestHeader(config, "Authorization", "Bearer " + token);
    return config;
  });

  const responseId = axiosInstance.interceptors.response.use(
    (response) => {
      store.adopt(responseHeader(response.headers, headerName), response.config?.[SENT] ?? null);
      return response;
    },
    async (failure) => {
      const response = failure && failure.response;
      const config = failure && failure.config;
      if (!response || !config) throw failure;
      const sent = config[SENT] ?? null;
      store.adopt(responseHeader(response.headers, headerName), sent);
      if (response.status !== 401 || !attachTo(config)) throw failure;
      const error = errorOf(response);
      if (!LOGIN_ERRORS.includes(error)) throw failure;

      if (!config[RETRIED]) {
        let retryToken = null;
        if (store.get() && store.get() !== sent) {
          retryToken = store.get();
        } else if (error === "token_expired") {
          const renewed = await renewFor(sent);
          if (renewed) store.set(renewed);
          if (store.get() && store.get() !== sent) retryToken = store.get();
        }
        if (retryToken) {
          config[RETRIED] = true;
          return axiosInstance.request(config); // the request interceptor sets the new token
        }
      }
      if (options.onLoginRequired) options.onLoginRequired({ error, status: response.status, response, config });
      throw failure;
    },
  );

  const handle = {
    store,
    getToken: () => store.get(),
    setToken: (token) => store.set(token),
    eject() {
      axiosInstance.interceptors.request.eject(requestId);
      axiosInstance.interceptors.response.eject(responseId);
    },
  };
  if (session) {
    Object.assign(handle, {
      session,
      login: (credentials, init) => session.login(credentials, init),
      logout: () => session.logout(),
      refreshSession: () => session.refresh(),
    });
  }
  return handle;
}
