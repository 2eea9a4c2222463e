// TLS contexts (libssl): built once per listener or outbound use, shared by
// workers. SSL_CTX stays behind void* so Swift never handles it; the
// bufferevent side of TLS is in CLibeventTLS.
#ifndef GATEWAY_COPENSSL_TLS_H
#define GATEWAY_COPENSSL_TLS_H
#include <stdio.h>
#include <openssl/ssl.h>
#include <openssl/err.h>

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

// OpenSSL's text for an error code (from bufferevent_get_openssl_error).
static inline void gw_tls_error_string(unsigned long e, char *buf, size_t len) { ERR_error_string_n(e, buf, len); }

#endif
