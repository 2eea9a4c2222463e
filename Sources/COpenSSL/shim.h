// The one place OpenSSL is seen from Swift. Macros, variadic functions and
// deprecated calls Swift cannot reach directly are wrapped here as prefixed
// static inline functions, each with a comment saying why it exists.
#ifndef GATEWAY_COPENSSL_SHIM_H
#define GATEWAY_COPENSSL_SHIM_H
#include <openssl/evp.h>
#include <openssl/err.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <openssl/pem.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/ecdsa.h>
#include <openssl/rsa.h>
#include <openssl/core_names.h>
#include <openssl/params.h>
#include <openssl/x509.h>

// OPENSSL_free is a macro.
static inline void gw_openssl_free(void *p) { OPENSSL_free(p); }

// EVP_PKEY_PUBLIC_KEY / EVP_PKEY_KEYPAIR are macros built from other macros,
// which Swift does not import.
static inline int gw_selection_public_key(void) { return EVP_PKEY_PUBLIC_KEY; }
static inline int gw_selection_keypair(void) { return EVP_PKEY_KEYPAIR; }

// EVP_PKEY_Q_keygen is variadic; Swift cannot call C variadic functions.
// Used by tests and `gateway token` tooling to make fresh keys.
static inline EVP_PKEY *gw_keygen_rsa(size_t bits) {
    return EVP_PKEY_Q_keygen(NULL, NULL, "RSA", bits);
}
static inline EVP_PKEY *gw_keygen_ec(const char *curve) {
    return EVP_PKEY_Q_keygen(NULL, NULL, "EC", curve);
}
static inline EVP_PKEY *gw_keygen_ed25519(void) {
    return EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
}

// OSSL_PARAM keeps the key pointer it is given. Swift strings bridged to
// `const char *` live only for one call, so the parameter names are built here
// from the header's string literals (static storage). The value buffers are
// the caller's, and must stay alive until the params are consumed.
static inline OSSL_PARAM gw_param_end(void) { return OSSL_PARAM_construct_end(); }
static inline OSSL_PARAM gw_param_digest(char *name) {
    return OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, name, 0);
}
// BN parameters are native-endian unsigned byte strings (OSSL_PARAM(3)).
static inline OSSL_PARAM gw_param_rsa_n(unsigned char *le, size_t len) {
    return OSSL_PARAM_construct_BN(OSSL_PKEY_PARAM_RSA_N, le, len);
}
static inline OSSL_PARAM gw_param_rsa_e(unsigned char *le, size_t len) {
    return OSSL_PARAM_construct_BN(OSSL_PKEY_PARAM_RSA_E, le, len);
}
static inline OSSL_PARAM gw_param_group(char *name) {
    return OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, name, 0);
}
static inline OSSL_PARAM gw_param_pub(unsigned char *octets, size_t len) {
    return OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, octets, len);
}
static inline OSSL_PARAM gw_param_priv_bn(unsigned char *le, size_t len) {
    return OSSL_PARAM_construct_BN(OSSL_PKEY_PARAM_PRIV_KEY, le, len);
}

// The curve name of an EC key ("prime256v1", ...): the parameter name is a
// macro string. Returns 1 on success.
static inline int gw_pkey_group_name(const EVP_PKEY *pkey, char *out, size_t cap) {
    size_t len = 0;
    return EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, out, cap, &len);
}

// The private scalar of an EC key as a big-endian number of exactly `len`
// bytes (RFC 6979 int2octets). Returns 1 on success.
static inline int gw_ec_private_scalar(const EVP_PKEY *pkey, unsigned char *out, int len) {
    BIGNUM *priv = NULL;
    if (EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_PRIV_KEY, &priv) != 1 || priv == NULL)
        return 0;
    int ok = BN_bn2binpad(priv, out, len) == len;
    BN_clear_free(priv);
    return ok;
}

// An encrypted PEM private key must fail to load, not prompt on the terminal
// (PEM_read_bio_PrivateKey with a NULL callback reads the tty).
static inline int gw_pem_no_password(char *buf, int size, int rwflag, void *u) {
    (void)buf; (void)size; (void)rwflag; (void)u;
    return -1;
}
static inline EVP_PKEY *gw_pem_read_private_key(const void *data, int len) {
    BIO *bio = BIO_new_mem_buf(data, len);
    if (bio == NULL) return NULL;
    EVP_PKEY *key = PEM_read_bio_PrivateKey(bio, NULL, gw_pem_no_password, NULL);
    BIO_free(bio);
    return key;
}
static inline EVP_PKEY *gw_pem_read_public_key(const void *data, int len) {
    BIO *bio = BIO_new_mem_buf(data, len);
    if (bio == NULL) return NULL;
    EVP_PKEY *key = PEM_read_bio_PUBKEY(bio, NULL, gw_pem_no_password, NULL);
    BIO_free(bio);
    return key;
}

// Deterministic ECDSA (RFC 6979). OpenSSL 3.0 has no switch for it, but the
// deprecated ECDSA_do_sign_ex takes a precomputed k^-1 and r; the nonce k is
// computed by the caller (RFC 6979 section 3.2). This computes
// kinv = k^-1 mod n and r = (kG).x mod n, signs the digest, and writes r||s,
// each left-padded to `field_len` bytes, into `out` (2 * field_len bytes).
// Deprecation warnings are silenced for these calls only: there is no
// non-deprecated way to supply k in 3.0. Returns 1 on success.
#pragma clang diagnostic push
#pragma clang diagnostic ignored "-Wdeprecated-declarations"
// The legacy EC_KEY view of an EC EVP_PKEY, made once per key: in 3.0 it is
// an exported copy, too costly to make per signature. Caller frees it with
// gw_ec_key_free. Read-only use from several threads is safe.
static inline EC_KEY *gw_ec_key_get1(EVP_PKEY *pkey) { return EVP_PKEY_get1_EC_KEY(pkey); }
static inline void gw_ec_key_free(EC_KEY *ec) { EC_KEY_free(ec); }

static inline int gw_ecdsa_sign_with_nonce(EC_KEY *ec,
                                           const unsigned char *dgst, int dgst_len,
                                           const unsigned char *k, int k_len,
                                           unsigned char *out, int field_len) {
    int ok = 0;
    BN_CTX *ctx = BN_CTX_new();
    BIGNUM *kbn = BN_bin2bn(k, k_len, NULL);
    BIGNUM *kinv = BN_new();
    BIGNUM *rp = BN_new();
    BIGNUM *x = BN_new();
    EC_POINT *point = NULL;
    ECDSA_SIG *sig = NULL;
    const BIGNUM *r = NULL, *s = NULL;
    const EC_GROUP *group = NULL;
    const BIGNUM *order = NULL;
    if (ec == NULL || ctx == NULL || kbn == NULL || kinv == NULL || rp == NULL || x == NULL)
        goto done;
    BN_set_flags(kbn, BN_FLG_CONSTTIME);
    group = EC_KEY_get0_group(ec);
    order = group ? EC_GROUP_get0_order(group) : NULL;
    if (order == NULL) goto done;
    point = EC_POINT_new(group);
    if (point == NULL || !EC_POINT_mul(group, point, kbn, NULL, NULL, ctx)) goto done;
    if (!EC_POINT_get_affine_coordinates(group, point, x, NULL, ctx)) goto done;
    if (!BN_nnmod(rp, x, order, ctx) || BN_is_zero(rp)) goto done;
    if (BN_mod_inverse(kinv, kbn, order, ctx) == NULL) goto done;
    sig = ECDSA_do_sign_ex(dgst, dgst_len, kinv, rp, ec);
    if (sig == NULL) goto done;
    ECDSA_SIG_get0(sig, &r, &s);
    if (BN_bn2binpad(r, out, field_len) != field_len) goto done;
    if (BN_bn2binpad(s, out + field_len, field_len) != field_len) goto done;
    ok = 1;
done:
    ECDSA_SIG_free(sig);
    EC_POINT_free(point);
    BN_clear_free(kbn);
    BN_clear_free(kinv);
    BN_free(rp);
    BN_free(x);
    BN_CTX_free(ctx);
    return ok;
}

// Deterministic ECDSA at the floor: everything a signature needs that does not
// depend on the message, made once per worker and key. gw_ecdsa_sign_with_nonce
// above makes a BN_CTX and five numbers per call, and inverts k with
// BN_mod_inverse, which under BN_FLG_CONSTTIME is a long division loop
// (about 60% of a P-256 signature in callgrind). Here k is blinded instead:
// with b uniformly random in [1, n-1] and unknown outside the signer (see
// gw_ecdsa_signer_invert_nonce for where it comes from), k^-1 = (k*b)^-1 * b,
// and the fast variable-time inverse only ever sees k*b, which is uniform and
// independent of k, so its timing says nothing about k.
// The result does not depend on b, so signatures stay deterministic.
// (Constant-time Fermat inversion, BN_mod_exp_mont_consttime with a prepared
// BN_MONT_CTX, costs 215,000 instructions on P-256 against 155,000 for the
// binary BN_mod_inverse: the public BN API has no faster inverse; OpenSSL's own
// P-256 order inversion is internal.) NOT thread-safe: the numbers are scratch
// for one signature at a time; one per worker and key.
typedef struct gw_ecdsa_signer {
    EC_KEY *ec;                 // one reference, freed with the signer
    const EC_GROUP *group;      // owned by ec
    const BIGNUM *order;        // owned by group
    BN_CTX *ctx;
    BN_MONT_CTX *mont;          // Montgomery multiplication modulo the order
    BIGNUM *k, *kinv, *blind, *blinded, *r, *x;
    BIGNUM *blind_step;         // c: b becomes b*c*R^-1 between refreshes
    unsigned blind_uses;        // signatures left before b and c are drawn afresh
    EC_POINT *point;
} gw_ecdsa_signer;

// How many signatures one random draw of b and c serves (see
// gw_ecdsa_signer_invert_nonce); OpenSSL's RSA blinding refreshes its factor
// after the same count (BN_BLINDING_COUNTER).
#define GW_ECDSA_BLIND_USES 32u

static inline void gw_ecdsa_signer_free(gw_ecdsa_signer *sg) {
    if (sg == NULL) return;
    EC_POINT_free(sg->point);
    BN_clear_free(sg->k);
    BN_clear_free(sg->kinv);
    BN_clear_free(sg->blind);
    BN_clear_free(sg->blinded);
    BN_clear_free(sg->blind_step);
    BN_free(sg->r);
    BN_free(sg->x);
    BN_MONT_CTX_free(sg->mont);
    BN_CTX_free(sg->ctx);
    EC_KEY_free(sg->ec);
    OPENSSL_free(sg);
}

// A signer for the private EC key `ec` (the EVPKey's legacy view; a reference
// is taken). NULL on allocation failure or a key without a usable group.
static inline gw_ecdsa_signer *gw_ecdsa_signer_new(EC_KEY *ec) {
    if (ec == NULL) return NULL;
    gw_ecdsa_signer *sg = OPENSSL_zalloc(sizeof(*sg));
    if (sg == NULL) return NULL;
    if (!EC_KEY_up_ref(ec)) { OPENSSL_free(sg); return NULL; }
    sg->ec = ec;
    sg->group = EC_KEY_get0_group(ec);
    sg->order = sg->group ? EC_GROUP_get0_order(sg->group) : NULL;
    sg->ctx = BN_CTX_new();
    sg->mont = BN_MONT_CTX_new();
    sg->k = BN_secure_new();
    sg->kinv = BN_secure_new();
    sg->blind = BN_secure_new();
    sg->blinded = BN_secure_new();
    sg->blind_step = BN_secure_new();
    sg->r = BN_new();
    sg->x = BN_new();
    sg->point = sg->group ? EC_POINT_new(sg->group) : NULL;
    if (sg->order == NULL || sg->ctx == NULL || sg->mont == NULL || sg->k == NULL || sg->kinv == NULL
        || sg->blind == NULL || sg->blinded == NULL || sg->blind_step == NULL || sg->r == NULL || sg->x == NULL || sg->point == NULL
        || !BN_MONT_CTX_set(sg->mont, sg->order, sg->ctx)) {
        gw_ecdsa_signer_free(sg);
        return NULL;
    }
    BN_set_flags(sg->k, BN_FLG_CONSTTIME);
    return sg;
}

// sg->kinv = sg->k^-1 mod n, for k in [1, n-1], blinded as described above.
// With Montgomery multiplication (mont(a, b) = a*b*R^-1 mod n) no conversion
// is needed: mont(k, b) = k*b*R^-1, its inverse is k^-1*b^-1*R, and
// mont(that, b) = k^-1. Returns 1 on success.
//
// Where b comes from: b and a step c, both uniform in [1, n-1], are drawn from
// OpenSSL's private DRBG (BN_priv_rand_range, ~7,600 instructions each) once
// every GW_ECDSA_BLIND_USES signatures; in between b is replaced by
// mont(b, c) = b*c*R^-1 mod n (one Montgomery product, ~550 instructions).
// Why that is sound: b_i = b_0 * (c*R^-1)^i, and multiplying the uniform,
// secret b_0 by a fixed nonzero value gives again a uniform value, so each b_i
// is uniform in [1, n-1] (never 0: n is prime), unknown outside the signer
// (b and c never leave it: kinv does not depend on them, and k*b is the only
// value whose timing the inverse could expose), and independent of k, which
// comes from the key and message (RFC 6979). So each signature's k*b is
// uniform and independent of k, as with a fresh b. Across signatures the b_i
// are related only through the secret b_0 and c, fresh every 32 signatures
// (OpenSSL's RSA blinding, by comparison, squares its factor in between).
static inline int gw_ecdsa_signer_invert_nonce(gw_ecdsa_signer *sg) {
    if (sg->blind_uses == 0) {
        do {
            if (!BN_priv_rand_range(sg->blind, sg->order)) return 0;
        } while (BN_is_zero(sg->blind));
        do {
            if (!BN_priv_rand_range(sg->blind_step, sg->order)) return 0;
        } while (BN_is_zero(sg->blind_step));
        sg->blind_uses = GW_ECDSA_BLIND_USES;
    } else if (!BN_mod_mul_montgomery(sg->blind, sg->blind, sg->blind_step, sg->mont, sg->ctx)) {
        sg->blind_uses = 0;
        return 0;
    }
    sg->blind_uses -= 1;
    if (!BN_mod_mul_montgomery(sg->blinded, sg->k, sg->blind, sg->mont, sg->ctx)) return 0;
    if (BN_mod_inverse(sg->kinv, sg->blinded, sg->order, sg->ctx) == NULL) return 0;
    return BN_mod_mul_montgomery(sg->kinv, sg->kinv, sg->blind, sg->mont, sg->ctx);
}

// The signer's scratch numbers are as secret as the key (b and c are kept for
// the next signature and cleared with the signer, BN_clear_free).
static inline void gw_ecdsa_signer_wipe(gw_ecdsa_signer *sg) {
    BN_clear(sg->k); BN_clear(sg->kinv); BN_clear(sg->blinded);
}

// Test hook: k^-1 mod n (k: k_len big-endian bytes in [1, n-1]) computed as
// the signer computes it, written big-endian to `out` (out_len bytes).
// Returns 1 on success.
static inline int gw_ecdsa_signer_nonce_inverse(gw_ecdsa_signer *sg, const unsigned char *k, int k_len,
                                                unsigned char *out, int out_len) {
    int ok = 0;
    if (sg == NULL || BN_bin2bn(k, k_len, sg->k) == NULL) goto done;
    BN_set_flags(sg->k, BN_FLG_CONSTTIME);
    if (BN_is_zero(sg->k) || BN_cmp(sg->k, sg->order) >= 0) goto done;
    ok = gw_ecdsa_signer_invert_nonce(sg) && BN_bn2binpad(sg->kinv, out, out_len) == out_len;
done:
    if (sg != NULL) gw_ecdsa_signer_wipe(sg);
    return ok;
}

// As gw_ecdsa_sign_with_nonce, with the signer's prepared state: k (k_len
// big-endian bytes, in [1, n-1]) -> r = (kG).x mod n, s by ECDSA_do_sign_ex;
// r||s written to `out`, each left-padded to `field_len`. Returns 1 on success.
static inline int gw_ecdsa_signer_sign(gw_ecdsa_signer *sg,
                                       const unsigned char *dgst, int dgst_len,
                                       const unsigned char *k, int k_len,
                                       unsigned char *out, int field_len) {
    int ok = 0;
    ECDSA_SIG *sig = NULL;
    const BIGNUM *r = NULL, *s = NULL;
    if (sg == NULL || BN_bin2bn(k, k_len, sg->k) == NULL) goto done;
    BN_set_flags(sg->k, BN_FLG_CONSTTIME);
    if (BN_is_zero(sg->k) || BN_cmp(sg->k, sg->order) >= 0) goto done;
    if (!EC_POINT_mul(sg->group, sg->point, sg->k, NULL, NULL, sg->ctx)) goto done;
    if (!EC_POINT_get_affine_coordinates(sg->group, sg->point, sg->x, NULL, sg->ctx)) goto done;
    if (!BN_nnmod(sg->r, sg->x, sg->order, sg->ctx) || BN_is_zero(sg->r)) goto done;
    if (!gw_ecdsa_signer_invert_nonce(sg)) goto done;
    sig = ECDSA_do_sign_ex(dgst, dgst_len, sg->kinv, sg->r, sg->ec);
    if (sig == NULL) goto done;
    ECDSA_SIG_get0(sig, &r, &s);
    if (BN_bn2binpad(r, out, field_len) != field_len) goto done;
    if (BN_bn2binpad(s, out + field_len, field_len) != field_len) goto done;
    ok = 1;
done:
    ECDSA_SIG_free(sig);
    if (sg != NULL) gw_ecdsa_signer_wipe(sg);
    return ok;
}
#pragma clang diagnostic pop

#endif
