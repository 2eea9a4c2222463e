// Per-thread caches for libevent's buffer memory: see include/libevent_pool.h.
#include "libevent_pool.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <event2/event.h>

#if defined(__has_feature)
#  if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || __has_feature(memory_sanitizer)
#    define GW_POOL_SANITIZED 1
#  endif
#endif
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#  define GW_POOL_SANITIZED 1
#endif

enum {
    CLASSES = GW_POOL_MAX_CLASS_SHIFT - GW_POOL_MIN_CLASS_SHIFT + 1,
    NOT_POOLED = 0xFF,
};

// Every block starts with this, so free and realloc know its size and class
// from the pointer alone. 16 bytes keep malloc's 16-byte alignment.
struct block_header {
    size_t size;
    uint32_t cls;
    uint32_t unused;
};
_Static_assert(sizeof(struct block_header) == 16, "header keeps 16-byte alignment");

// A free block's first user bytes hold the next free block of its class.
struct free_block {
    struct block_header header;
    struct free_block *next;
};

struct thread_cache {
    struct free_block *head[CLASSES];
    unsigned count[CLASSES];
    size_t bytes;
    uint64_t hits, misses;
};

static _Thread_local struct thread_cache *tl_cache;
static _Thread_local int tl_released;      // this thread's cache is gone (thread exiting)
static pthread_key_t cache_key;
static pthread_once_t cache_key_once = PTHREAD_ONCE_INIT;
static atomic_size_t all_cached_bytes;

// How many blocks of a class a thread keeps: about 1 MiB of each, at least
// 4 and at most 64 blocks; the thread's total stays under GW_POOL_THREAD_CAP.
static unsigned class_limit(unsigned cls) {
    size_t size = (size_t)1 << (cls + GW_POOL_MIN_CLASS_SHIFT);
    size_t n = ((size_t)1 << 20) / size;
    if (n < 4) n = 4;
    if (n > 64) n = 64;
    return (unsigned)n;
}

static unsigned class_of(size_t size) {
    if (size < ((size_t)1 << GW_POOL_MIN_CLASS_SHIFT) || size > ((size_t)1 << GW_POOL_MAX_CLASS_SHIFT))
        return NOT_POOLED;
    if ((size & (size - 1)) != 0) return NOT_POOLED;   // libevent's chains are powers of two
    return (unsigned)__builtin_ctzll(size) - GW_POOL_MIN_CLASS_SHIFT;
}

static void release_cache(void *arg) {
    struct thread_cache *c = arg;
    for (unsigned i = 0; i < CLASSES; i++) {
        struct free_block *b = c->head[i];
        while (b) {
            struct free_block *next = b->next;
            free(b);
            b = next;
        }
    }
    atomic_fetch_sub_explicit(&all_cached_bytes, c->bytes, memory_order_relaxed);
    free(c);
    tl_cache = NULL;
    tl_released = 1;   // frees later in this thread's exit go to plain free
}

static void make_cache_key(void) {
    (void)pthread_key_create(&cache_key, release_cache);
}

static struct thread_cache *thread_cache(void) {
    struct thread_cache *c = tl_cache;
    if (c || tl_released) return c;
    pthread_once(&cache_key_once, make_cache_key);
    c = calloc(1, sizeof *c);
    if (!c) return NULL;
    if (pthread_setspecific(cache_key, c) != 0) {   // no destructor: do not cache on this thread
        free(c);
        tl_released = 1;
        return NULL;
    }
    tl_cache = c;
    return c;
}

void *gw_pool_malloc(size_t size) {
    unsigned cls = class_of(size);
    if (cls != NOT_POOLED) {
        struct thread_cache *c = thread_cache();
        if (c) {
            struct free_block *b = c->head[cls];
            if (b) {
                c->head[cls] = b->next;
                c->count[cls]--;
                c->bytes -= size;
                c->hits++;
                atomic_fetch_sub_explicit(&all_cached_bytes, size, memory_order_relaxed);
                return &b->header + 1;
            }
            c->misses++;
        }
    }
    if (size > SIZE_MAX - sizeof(struct block_header)) return NULL;
    struct block_header *h = malloc(sizeof *h + size);
    if (!h) return NULL;
    h->size = size;
    h->cls = cls;
    h->unused = 0;
    return h + 1;
}

void gw_pool_free(void *ptr) {
    if (!ptr) return;
    struct block_header *h = (struct block_header *)ptr - 1;
    if (h->cls != NOT_POOLED) {
        struct thread_cache *c = thread_cache();
        if (c && c->count[h->cls] < class_limit(h->cls) && c->bytes + h->size <= GW_POOL_THREAD_CAP) {
            struct free_block *b = (struct free_block *)h;
            b->next = c->head[h->cls];
            c->head[h->cls] = b;
            c->count[h->cls]++;
            c->bytes += h->size;
            atomic_fetch_add_explicit(&all_cached_bytes, h->size, memory_order_relaxed);
            return;
        }
    }
    free(h);
}

void *gw_pool_realloc(void *ptr, size_t size) {
    if (!ptr) return gw_pool_malloc(size);
    if (size == 0) {
        gw_pool_free(ptr);
        return NULL;
    }
    struct block_header *h = (struct block_header *)ptr - 1;
    if (h->cls == NOT_POOLED && class_of(size) == NOT_POOLED) {
        if (size > SIZE_MAX - sizeof *h) return NULL;
        struct block_header *moved = realloc(h, sizeof *h + size);
        if (!moved) return NULL;   // the old block stays valid, as realloc's contract says
        moved->size = size;
        return moved + 1;
    }
    void *fresh = gw_pool_malloc(size);
    if (!fresh) return NULL;
    memcpy(fresh, ptr, h->size < size ? h->size : size);
    gw_pool_free(ptr);
    return fresh;
}

uint64_t gw_pool_thread_hits(void) { return tl_cache ? tl_cache->hits : 0; }
uint64_t gw_pool_thread_misses(void) { return tl_cache ? tl_cache->misses : 0; }
size_t gw_pool_thread_cached_bytes(void) { return tl_cache ? tl_cache->bytes : 0; }
size_t gw_pool_cached_bytes(void) { return atomic_load_explicit(&all_cached_bytes, memory_order_relaxed); }

static int pool_installed;
static pthread_once_t install_once = PTHREAD_ONCE_INIT;

static void install(void) {
#ifdef GW_POOL_SANITIZED
    pool_installed = 0;
#else
    const char *setting = getenv("GATEWAY_LIBEVENT_POOL");
    if (setting && strcmp(setting, "off") == 0) {
        pool_installed = 0;
        return;
    }
    event_set_mem_functions(gw_pool_malloc, gw_pool_realloc, gw_pool_free);
    pool_installed = 1;
#endif
}

int gw_libevent_pool_install(void) {
    pthread_once(&install_once, install);
    return pool_installed;
}
