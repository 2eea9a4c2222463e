// Per-thread caches for libevent's buffer memory (the evbuffer chains).
//
// libevent mallocs a chain when data arrives into an empty evbuffer and frees
// it once the buffer drains: on a keep-alive proxy that is four malloc/free
// pairs per request (client input, upstream output, upstream input, client
// output). HAProxy keeps its buffers in per-thread pool caches for the same
// reason; this does that for libevent, through event_set_mem_functions.
//
// - Chains are power-of-two sizes from 1 KiB (libevent rounds them up); those
//   from 1 KiB to 128 KiB are cached per thread, newest first, at most 2 MiB
//   per thread. Other sizes go straight to malloc.
// - A block freed on another thread joins that thread's cache.
// - A thread's cache is freed when the thread exits.
// - Sanitizer builds, and GATEWAY_LIBEVENT_POOL=off, leave libevent on plain
//   malloc, so the sanitizers see every chain.
#ifndef GATEWAY_LIBEVENT_POOL_H
#define GATEWAY_LIBEVENT_POOL_H

#include <stddef.h>
#include <stdint.h>

// Installs the pool as libevent's allocator. Must run before any other
// libevent call (libevent's rule for event_set_mem_functions); later calls do
// nothing. Returns 1 when the pool is in use, 0 when plain malloc is.
int gw_libevent_pool_install(void);

// The allocator itself (usable without installing, for tests).
void *gw_pool_malloc(size_t size);
void *gw_pool_realloc(void *ptr, size_t size);
void gw_pool_free(void *ptr);

// Counters of the calling thread: allocations served from its cache, and
// allocations that had to call malloc.
uint64_t gw_pool_thread_hits(void);
uint64_t gw_pool_thread_misses(void);
// Bytes held in the calling thread's cache.
size_t gw_pool_thread_cached_bytes(void);
// Bytes held in all threads' caches.
size_t gw_pool_cached_bytes(void);

// Limits, for tests.
#define GW_POOL_MIN_CLASS_SHIFT 10   // 1 KiB
#define GW_POOL_MAX_CLASS_SHIFT 17   // 128 KiB
#define GW_POOL_THREAD_CAP (2u << 20)

#endif
