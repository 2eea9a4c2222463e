// The one place hiredis is seen from Swift: the async API on libevent. Swift
// cannot call variadic C functions or static functions behind macros, so what
// the store needs is wrapped here as prefixed static inline functions.
#ifndef GATEWAY_CHIREDIS_SHIM_H
#define GATEWAY_CHIREDIS_SHIM_H

#include <sys/types.h>
#include <sys/socket.h>
#include <netdb.h>
#include <arpa/inet.h>
#include <string.h>
#include <hiredis.h>
#include <async.h>
#include <adapters/libevent.h>

// The adapter's attach is a static function in a header; the base comes in as
// an untyped pointer so this module does not re-export libevent's types.
static inline int gw_redis_attach(redisAsyncContext *ac, void *base) {
    return redisLibeventAttach(ac, (struct event_base *)base);
}

// One command already in RESP form (built in Swift), so no variadic
// format string is ever needed. Returns REDIS_ERR when the context is
// closing; the callback is then not registered.
static inline int gw_redis_send(redisAsyncContext *ac, redisCallbackFn *fn, void *privdata,
                                const void *command, size_t length) {
    return redisAsyncFormattedCommand(ac, fn, privdata, (const char *)command, length);
}

// TCP keepalive on the context's socket: a peer that vanished without a FIN
// is noticed by the kernel, not only by the next command's timeout.
static inline int gw_redis_keepalive(redisAsyncContext *ac) {
    return redisEnableKeepAlive(&ac->c);
}

static inline int gw_redis_ok(void) { return REDIS_OK; }

// Reply types are macros.
static inline int gw_reply_is_string(int t) { return t == REDIS_REPLY_STRING; }
static inline int gw_reply_is_array(int t) { return t == REDIS_REPLY_ARRAY; }
static inline int gw_reply_is_integer(int t) { return t == REDIS_REPLY_INTEGER; }
static inline int gw_reply_is_nil(int t) { return t == REDIS_REPLY_NIL; }
static inline int gw_reply_is_status(int t) { return t == REDIS_REPLY_STATUS; }
static inline int gw_reply_is_error(int t) { return t == REDIS_REPLY_ERROR; }

// Resolves a host name to one numeric address into `out`: the first IPv4
// one, else the first IPv6 one ("localhost" often lists ::1 first while Redis
// binds 127.0.0.1). Blocking: called on a short-lived thread, never on an
// event loop. Returns 0, or getaddrinfo's error code.
static inline int gw_resolve_host(const char *host, char *out, size_t outlen) {
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    int rc = getaddrinfo(host, NULL, &hints, &res);
    if (rc != 0) return rc;
    const struct addrinfo *pick = NULL;
    for (const struct addrinfo *a = res; a && !pick; a = a->ai_next)
        if (a->ai_family == AF_INET) pick = a;
    for (const struct addrinfo *a = res; a && !pick; a = a->ai_next)
        if (a->ai_family == AF_INET6) pick = a;
    const void *addr = NULL;
    if (pick && pick->ai_family == AF_INET) addr = &((struct sockaddr_in *)pick->ai_addr)->sin_addr;
    else if (pick) addr = &((struct sockaddr_in6 *)pick->ai_addr)->sin6_addr;
    rc = (addr && inet_ntop(pick->ai_family, addr, out, (socklen_t)outlen)) ? 0 : EAI_FAIL;
    freeaddrinfo(res);
    return rc;
}

static inline const char *gw_resolve_error(int rc) { return gai_strerror(rc); }

#endif
