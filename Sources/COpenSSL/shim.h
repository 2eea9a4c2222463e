// The one place OpenSSL is seen from Swift. Macros and deprecated calls Swift
// cannot reach directly are wrapped here as prefixed static inline functions.
#ifndef GATEWAY_COPENSSL_SHIM_H
#define GATEWAY_COPENSSL_SHIM_H
#include <openssl/evp.h>
#include <openssl/err.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>

// OPENSSL_free is a macro.
static inline void gw_openssl_free(void *p) { OPENSSL_free(p); }

#endif
