// TLS contexts (libssl): built once per listener or outbound use, shared by
// workers. SSL_CTX stays behind void* so Swift never handles it; the
// bufferevent side of TLS is in CLibeventTLS.
//
// A listener's certificates form a "set": one SSL_CTX per certificate, the
// first one the default. Every connection starts on the default context;
// the SNI callback moves it to the context whose names match. The name
// table hangs off the default context (ex_data) and is freed with it, so it
// lives as long as the last SSL made from that context (SSL_new takes a
// reference on the context, and SSL_set_SSL_CTX one on the context it
// moves to): a reload drops our reference, open connections keep theirs.
//
// The static state below (the ex_data index, the live-set counter) is
// per object file that calls these functions: call the server-set ones
// from one Swift file only (TLSContext.swift).
#ifndef GATEWAY_COPENSSL_TLS_H
#define GATEWAY_COPENSSL_TLS_H
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <openssl/ssl.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

static inline void gw_tls_last_error(char *buf, size_t len) {
    unsigned long e = ERR_get_error();
    if (e == 0) { snprintf(buf, len, "unknown TLS error"); return; }
    ERR_error_string_n(e, buf, len);
    ERR_clear_error();
}

// TLS 1.2 suites: ECDHE key exchange with AEAD ciphers only (forward
// secrecy, no CBC, no RSA key transport). TLS 1.3 keeps OpenSSL's defaults,
// all AEAD.
#define GW_TLS12_CIPHERS "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:" \
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:" \
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"

// ALPN: only HTTP/1.1 is spoken. A client that offers ALPN without it gets
// the no_application_protocol alert (RFC 7301 §3.2); one that offers no
// ALPN at all is not asked.
static inline int gw_tls__alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                                      const unsigned char *in, unsigned int inlen, void *arg) {
    (void)ssl; (void)arg;
    static const unsigned char ours[] = "\x08http/1.1";
    unsigned char *chosen = NULL;
    unsigned char chosenlen = 0;
    if (SSL_select_next_proto(&chosen, &chosenlen, ours, sizeof(ours) - 1, in, inlen) != OPENSSL_NPN_NEGOTIATED)
        return SSL_TLSEXT_ERR_ALERT_FATAL;
    *out = chosen;
    *outlen = chosenlen;
    return SSL_TLSEXT_ERR_OK;
}

// Encrypted keys are not supported: never prompt on a terminal for a
// passphrase (OpenSSL's default callback would).
static inline int gw_tls__no_password(char *buf, int size, int rwflag, void *u) {
    (void)buf; (void)size; (void)rwflag; (void)u;
    return 0;
}

// What failed in gw_tls_server_ctx_new.
enum {
    GW_TLS_FAILED_CONTEXT = 0,
    GW_TLS_FAILED_CERTIFICATE = 1,
    GW_TLS_FAILED_KEY = 2,
    GW_TLS_FAILED_MISMATCH = 3,
};

// A server context from a PEM certificate chain and private key. NULL on
// failure, with the stage in *failed and OpenSSL's reason in err.
static inline void *gw_tls_server_ctx_new(const char *cert, const char *key, int *failed, char *err, size_t errlen) {
    BIO *bio = NULL;
    EVP_PKEY *pkey = NULL;
    ERR_clear_error();
    *failed = GW_TLS_FAILED_CONTEXT;
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx) { gw_tls_last_error(err, errlen); return NULL; }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_COMPRESSION);
    SSL_CTX_set_default_passwd_cb(ctx, gw_tls__no_password);
    SSL_CTX_set_alpn_select_cb(ctx, gw_tls__alpn_select, NULL);
    if (SSL_CTX_set_cipher_list(ctx, GW_TLS12_CIPHERS) != 1) goto fail;
    *failed = GW_TLS_FAILED_CERTIFICATE;
    if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) goto fail;
    *failed = GW_TLS_FAILED_KEY;
    bio = BIO_new_file(key, "r");
    if (!bio) goto fail;
    pkey = PEM_read_bio_PrivateKey(bio, NULL, gw_tls__no_password, NULL);
    BIO_free(bio);
    if (!pkey) goto fail;
    // Checked before SSL_CTX_use_PrivateKey, which would file a key of
    // another type in another slot and fail later with a vaguer reason.
    if (X509_check_private_key(SSL_CTX_get0_certificate(ctx), pkey) != 1) {
        *failed = GW_TLS_FAILED_MISMATCH;
        EVP_PKEY_free(pkey);
        goto fail;
    }
    if (SSL_CTX_use_PrivateKey(ctx, pkey) != 1) { EVP_PKEY_free(pkey); goto fail; }
    EVP_PKEY_free(pkey);
    *failed = GW_TLS_FAILED_MISMATCH;
    if (SSL_CTX_check_private_key(ctx) != 1) goto fail;
    return ctx;
fail:
    gw_tls_last_error(err, errlen);
    SSL_CTX_free(ctx);
    return NULL;
}

// Seconds from now to the notAfter of the context's certificate (negative
// once expired). 0 when there is no certificate or its time is unreadable.
static inline int gw_tls_ctx_seconds_to_expiry(void *ctx, long long *seconds) {
    X509 *x = SSL_CTX_get0_certificate((SSL_CTX *)ctx);
    if (!x) return 0;
    int days = 0, secs = 0;
    if (ASN1_TIME_diff(&days, &secs, NULL, X509_get0_notAfter(x)) != 1) return 0;
    *seconds = (long long)days * 86400 + secs;
    return 1;
}

// MARK: certificate sets (SNI)

typedef struct {
    char *name;    // lower case; "*.example.com" for a one-label wildcard
    SSL_CTX *ctx;  // a reference we own; NULL for the default context itself
} gw_tls_sni_entry;

typedef struct {
    SSL_CTX *def;  // not a reference: the map lives inside it
    gw_tls_sni_entry *entries;
    size_t count, capacity;
} gw_tls_sni_map;

static inline long *gw_tls__live_sets(void) { static long n = 0; return &n; }

static inline void gw_tls__sni_map_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp) {
    (void)parent; (void)ad; (void)idx; (void)argl; (void)argp;
    gw_tls_sni_map *m = (gw_tls_sni_map *)ptr;
    if (!m) return;  // a context that is not the default of a set
    for (size_t i = 0; i < m->count; i++) {
        free(m->entries[i].name);
        if (m->entries[i].ctx) SSL_CTX_free(m->entries[i].ctx);
    }
    free(m->entries);
    free(m);
    __atomic_sub_fetch(gw_tls__live_sets(), 1, __ATOMIC_RELAXED);
}

static inline int *gw_tls__map_index_slot(void) { static int index = -1; return &index; }
static inline void gw_tls__map_index_init(void) {
    *gw_tls__map_index_slot() = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, gw_tls__sni_map_free);
}
static inline int gw_tls__map_index(void) {
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, gw_tls__map_index_init);
    return *gw_tls__map_index_slot();
}

// Picks the context for the ClientHello's server name: an exact name first,
// then a wildcard covering exactly one more label; else the default. Never
// refuses a name: an unknown one gets the default certificate.
static inline int gw_tls__servername(SSL *ssl, int *alert, void *arg) {
    (void)alert;
    gw_tls_sni_map *m = (gw_tls_sni_map *)arg;
    const char *name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    if (!m || !name) return SSL_TLSEXT_ERR_OK;
    SSL_CTX *target = m->def;
    int found = 0;
    for (size_t i = 0; i < m->count && !found; i++) {
        if (m->entries[i].name[0] != '*' && strcasecmp(m->entries[i].name, name) == 0) {
            target = m->entries[i].ctx ? m->entries[i].ctx : m->def;
            found = 1;
        }
    }
    const char *dot = strchr(name, '.');
    if (!found && dot && dot != name) {
        for (size_t i = 0; i < m->count && !found; i++) {
            // "*.example.com" + 1 is ".example.com": the name's part after its first label.
            if (m->entries[i].name[0] == '*' && strcasecmp(m->entries[i].name + 1, dot) == 0) {
                target = m->entries[i].ctx ? m->entries[i].ctx : m->def;
                found = 1;
            }
        }
    }
    if (target != SSL_get_SSL_CTX(ssl) && SSL_set_SSL_CTX(ssl, target) == NULL) return SSL_TLSEXT_ERR_ALERT_FATAL;
    return SSL_TLSEXT_ERR_OK;
}

// Makes def the default context of a new set (an empty name table, the SNI
// callback). 0 on allocation failure.
static inline int gw_tls_server_set_init(void *def) {
    int index = gw_tls__map_index();
    if (index < 0) return 0;
    gw_tls_sni_map *m = (gw_tls_sni_map *)calloc(1, sizeof(gw_tls_sni_map));
    if (!m) return 0;
    m->def = (SSL_CTX *)def;
    if (SSL_CTX_set_ex_data((SSL_CTX *)def, index, m) != 1) { free(m); return 0; }
    __atomic_add_fetch(gw_tls__live_sets(), 1, __ATOMIC_RELAXED);
    SSL_CTX_set_tlsext_servername_callback((SSL_CTX *)def, gw_tls__servername);
    SSL_CTX_set_tlsext_servername_arg((SSL_CTX *)def, m);
    return 1;
}

// Routes server name `name` (lower case, maybe "*.") to ctx, a context of
// def's set or def itself. Takes a reference on ctx. 0 on failure.
static inline int gw_tls_server_set_add_name(void *def, void *ctx, const char *name) {
    int index = gw_tls__map_index();
    gw_tls_sni_map *m = index < 0 ? NULL : (gw_tls_sni_map *)SSL_CTX_get_ex_data((SSL_CTX *)def, index);
    if (!m) return 0;
    if (m->count == m->capacity) {
        size_t cap = m->capacity ? m->capacity * 2 : 8;
        gw_tls_sni_entry *grown = (gw_tls_sni_entry *)realloc(m->entries, cap * sizeof(gw_tls_sni_entry));
        if (!grown) return 0;
        m->entries = grown;
        m->capacity = cap;
    }
    char *copy = strdup(name);
    if (!copy) return 0;
    SSL_CTX *target = NULL;
    if (ctx != def) {
        target = (SSL_CTX *)ctx;
        SSL_CTX_up_ref(target);
    }
    m->entries[m->count].name = copy;
    m->entries[m->count].ctx = target;
    m->count++;
    return 1;
}

// Sets whose default context is still alive: the current one and any an
// open connection still holds after a reload.
static inline long gw_tls_server_sets_alive(void) { return __atomic_load_n(gw_tls__live_sets(), __ATOMIC_RELAXED); }

// MARK: client contexts

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
