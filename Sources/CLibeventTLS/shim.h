// The bridge between libevent and OpenSSL: bufferevent_openssl sockets.
// Only this module sees SSL objects next to bufferevents; contexts come
// from COpenSSL as void*, bufferevents go back to CLibevent's functions.
#ifndef GATEWAY_CLIBEVENT_TLS_SHIM_H
#define GATEWAY_CLIBEVENT_TLS_SHIM_H
#include <sys/types.h>
#include <unistd.h>
#include <event2/event.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

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

// The next queued OpenSSL error of a TLS bufferevent, 0 when none.
static inline unsigned long gw_bufferevent_tls_error(struct bufferevent *bev) { return bufferevent_get_openssl_error(bev); }

#endif
