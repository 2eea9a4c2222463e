// The one place libevent is seen from Swift. Swift cannot import function-like
// macros, so each one used is wrapped here as a prefixed static inline function.
#ifndef GATEWAY_CLIBEVENT_SHIM_H
#define GATEWAY_CLIBEVENT_SHIM_H

#include <sys/types.h>   // event2 headers assume it is already included
#include <sys/socket.h>
#include <sys/resource.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <signal.h>
#include <errno.h>
#include <unistd.h>
#include <fcntl.h>
#include <string.h>
#include <stdlib.h>
#include <stdio.h>
#include <sys/eventfd.h>
#include <pthread.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <event2/event.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/listener.h>
#include <event2/thread.h>
#include <event2/util.h>
#include <openssl/ssl.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <event2/bufferevent_ssl.h>

// evtimer_new is a macro.
static inline struct event *gw_evtimer_new(struct event_base *base,
                                           event_callback_fn cb, void *arg) {
    return event_new(base, -1, 0, cb, arg);
}

// evsignal_new is a macro; signals persist until removed.
static inline struct event *gw_evsignal_new(struct event_base *base, int sig,
                                            event_callback_fn cb, void *arg) {
    return event_new(base, sig, EV_SIGNAL | EV_PERSIST, cb, arg);
}

// A persistent read event on a file descriptor (wake-up pipes, eventfd).
static inline struct event *gw_evread_new(struct event_base *base, int fd,
                                          event_callback_fn cb, void *arg) {
    return event_new(base, fd, EV_READ | EV_PERSIST, cb, arg);
}

// event_add with a millisecond timeout; ms < 0 means no timeout.
static inline int gw_event_add_ms(struct event *ev, long ms) {
    if (ms < 0) return event_add(ev, NULL);
    struct timeval tv = { .tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000 };
    return event_add(ev, &tv);
}

// bufferevent timeouts in milliseconds; ms <= 0 disables that direction.
static inline void gw_bufferevent_set_timeouts_ms(struct bufferevent *bev,
                                                  long read_ms, long write_ms) {
    struct timeval r = { .tv_sec = read_ms / 1000, .tv_usec = (read_ms % 1000) * 1000 };
    struct timeval w = { .tv_sec = write_ms / 1000, .tv_usec = (write_ms % 1000) * 1000 };
    bufferevent_set_timeouts(bev, read_ms > 0 ? &r : NULL, write_ms > 0 ? &w : NULL);
}

// errno is a macro over a thread-local; Swift's Glibc errno works, but
// libevent's socket error accessor is a macro too.
static inline int gw_socket_error(int fd) { return evutil_socket_geterror(fd); }

static inline int gw_errno(void) { return errno; }

// SIG_IGN is a macro over a cast function pointer.
static inline void gw_ignore_sigpipe(void) { signal(SIGPIPE, SIG_IGN); }

// pthread_setname_np needs _GNU_SOURCE; prctl names the calling thread.
static inline void gw_set_thread_name(const char *name) { prctl(PR_SET_NAME, name, 0, 0, 0); }

// --- TLS through bufferevent_openssl -------------------------------------
// OpenSSL types stay behind void* here so that Swift code importing this
// module never handles them; COpenSSL is the module for crypto.

static inline void gw_tls_last_error(char *buf, size_t len) {
    unsigned long e = ERR_get_error();
    if (e == 0) { snprintf(buf, len, "unknown TLS error"); return; }
    ERR_error_string_n(e, buf, len);
    ERR_clear_error();
}

// A server context from a PEM certificate chain and private key. NULL on
// failure, with OpenSSL's reason in err.
static inline void *gw_tls_server_ctx_new(const char *cert, const char *key, char *err, size_t errlen) {
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx) { gw_tls_last_error(err, errlen); return NULL; }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
    if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(ctx) != 1) {
        gw_tls_last_error(err, errlen);
        SSL_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

// A client context that verifies the peer against ca_file, or the system
// store when ca_file is NULL.
static inline void *gw_tls_client_ctx_new(const char *ca_file, char *err, size_t errlen) {
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx) { gw_tls_last_error(err, errlen); return NULL; }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    int ok = ca_file ? SSL_CTX_load_verify_locations(ctx, ca_file, NULL) : SSL_CTX_set_default_verify_paths(ctx);
    if (ok != 1) { gw_tls_last_error(err, errlen); SSL_CTX_free(ctx); return NULL; }
    return ctx;
}

static inline void gw_tls_ctx_free(void *ctx) { SSL_CTX_free((SSL_CTX *)ctx); }

// A bufferevent that runs the server side of a TLS handshake on fd.
static inline struct bufferevent *gw_bufferevent_tls_accept(struct event_base *base, int fd, void *ctx) {
    SSL *ssl = SSL_new((SSL_CTX *)ctx);
    if (!ssl) { close(fd); return NULL; }
    struct bufferevent *bev = bufferevent_openssl_socket_new(base, fd, ssl, BUFFEREVENT_SSL_ACCEPTING,
                                                             BEV_OPT_CLOSE_ON_FREE);
    if (!bev) { SSL_free(ssl); close(fd); return NULL; }
    // Many clients close without close_notify; that is not an attack on a
    // request/response protocol with its own framing.
    bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
    return bev;
}

// A client bufferevent (not yet connected) that checks the peer certificate
// against host: a DNS name (SNI and name check) or an IP literal.
static inline struct bufferevent *gw_bufferevent_tls_client(struct event_base *base, void *ctx, const char *host) {
    SSL *ssl = SSL_new((SSL_CTX *)ctx);
    if (!ssl) return NULL;
    X509_VERIFY_PARAM *param = SSL_get0_param(ssl);
    X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    if (X509_VERIFY_PARAM_set1_ip_asc(param, host) != 1) {
        if (X509_VERIFY_PARAM_set1_host(param, host, 0) != 1 || SSL_set_tlsext_host_name(ssl, host) != 1) {
            SSL_free(ssl);
            return NULL;
        }
    }
    struct bufferevent *bev = bufferevent_openssl_socket_new(base, -1, ssl, BUFFEREVENT_SSL_CONNECTING,
                                                             BEV_OPT_CLOSE_ON_FREE);
    if (!bev) { SSL_free(ssl); return NULL; }
    bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
    return bev;
}

#endif
