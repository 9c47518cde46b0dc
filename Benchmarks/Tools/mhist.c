/* A live-allocation census for inflight-bench: build with
     gcc -O2 -shared -fPIC -o /tmp/libmhist.so mhist.c -ldl
   and run the bench under LD_PRELOAD=/tmp/libmhist.so. The bench calls mhist_mark() before it opens its calls and
   mhist_dump(calls) while they are all parked (found with dlsym; a no-op without the shim). Every allocation made
   after the mark is tracked with its usable size and its caller's stack (MHIST_FRAMES deep); the dump prints, for
   the allocations still live, bytes per call by usable size and by stack, to stderr. Addresses are raw: resolve
   them with the module map printed alongside (llvm-symbolizer --obj=BINARY ADDRESS-BASE). */
#define _GNU_SOURCE
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <stdatomic.h>
#include <malloc.h>
#include <execinfo.h>
#include <sys/mman.h>
#include <link.h>
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void __libc_free(void *);
extern void *__libc_memalign(size_t, size_t);

#define FRAMES 12
#define PTR_SLOTS (1u << 23)
#define STACK_SLOTS (1u << 16)
typedef struct { void *p; uint32_t size; uint32_t stack; } Slot;
typedef struct { uint64_t hash; void *frames[FRAMES]; long count; long bytes; } Stack;
static Slot *slots;
static Stack *stacks;
static atomic_int tracking;
static atomic_flag lock = ATOMIC_FLAG_INIT;
static __thread int inside;
static long live_count, live_bytes;

static void acquire(void) { while (atomic_flag_test_and_set_explicit(&lock, memory_order_acquire)) {} }
static void release(void) { atomic_flag_clear_explicit(&lock, memory_order_release); }
static uint32_t phash(void *p) { uint64_t x = (uint64_t)p; x ^= x >> 33; x *= 0xff51afd7ed558ccdULL; x ^= x >> 33; return (uint32_t)x; }

static uint32_t stack_id(void) {
    void *frames[FRAMES + 2];
    memset(frames, 0, sizeof frames);
    int n = backtrace(frames, FRAMES + 2);
    (void)n;
    uint64_t h = 1469598103934665603ULL;
    for (int i = 2; i < FRAMES + 2; i++) { h ^= (uint64_t)frames[i]; h *= 1099511628211ULL; }
    uint32_t i = (uint32_t)h & (STACK_SLOTS - 1);
    for (;;) {
        if (stacks[i].hash == 0) { stacks[i].hash = h; memcpy(stacks[i].frames, frames + 2, sizeof(void *) * FRAMES); return i; }
        if (stacks[i].hash == h) return i;
        i = (i + 1) & (STACK_SLOTS - 1);
    }
}

static void track(void *p) {
    if (!p || !atomic_load_explicit(&tracking, memory_order_relaxed) || inside) return;
    inside = 1;
    size_t size = malloc_usable_size(p);
    acquire();
    uint32_t s = stack_id();
    uint32_t i = phash(p) & (PTR_SLOTS - 1);
    while (slots[i].p && slots[i].p != (void *)1) i = (i + 1) & (PTR_SLOTS - 1);
    slots[i].p = p; slots[i].size = (uint32_t)size; slots[i].stack = s;
    stacks[s].count++; stacks[s].bytes += size; live_count++; live_bytes += size;
    release();
    inside = 0;
}

static void untrack(void *p) {
    if (!p || !slots || inside) return;
    acquire();
    uint32_t i = phash(p) & (PTR_SLOTS - 1);
    while (slots[i].p) {
        if (slots[i].p == p) {
            Stack *s = &stacks[slots[i].stack];
            s->count--; s->bytes -= slots[i].size; live_count--; live_bytes -= slots[i].size;
            slots[i].p = (void *)1; /* tombstone */
            break;
        }
        i = (i + 1) & (PTR_SLOTS - 1);
    }
    release();
}

static void ta_dump(long calls);

void mhist_mark(void) {
    if (!slots) {
        slots = mmap(0, sizeof(Slot) * PTR_SLOTS, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        stacks = mmap(0, sizeof(Stack) * STACK_SLOTS, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        void *warm[4]; backtrace(warm, 4); /* loads libgcc before tracking starts */
    }
    atomic_store(&tracking, 1);
}

static int print_module(struct dl_phdr_info *info, size_t size, void *data) {
    (void)size; (void)data;
    fprintf(stderr, "module %#lx %s\n", (unsigned long)info->dlpi_addr, info->dlpi_name[0] ? info->dlpi_name : "(main)");
    return 0;
}

static int by_bytes(const void *a, const void *b) {
    long x = ((const Stack *)a)->bytes, y = ((const Stack *)b)->bytes;
    return (x < y) - (x > y);
}

void mhist_dump(long calls) {
    atomic_store(&tracking, 0);
    inside = 1; /* qsort and stdio allocate: neither tracked nor untracked while the lock is held */
    acquire();
    fprintf(stderr, "mhist: live since mark: %ld allocations, %ld usable bytes, %.1f allocations and %.1f bytes per call (+16 B chunk header each: %.1f)\n",
            live_count, live_bytes, (double)live_count / calls, (double)live_bytes / calls,
            (double)(live_bytes + 8 * live_count) / calls);
    enum { MAXS = 70000 };
    static long hist_count[MAXS];
    static long big_count; static long big_bytes;
    memset(hist_count, 0, sizeof hist_count); big_count = big_bytes = 0;
    for (uint32_t i = 0; i < PTR_SLOTS; i++) {
        if (slots[i].p && slots[i].p != (void *)1) {
            if (slots[i].size < MAXS) hist_count[slots[i].size]++; else { big_count++; big_bytes += slots[i].size; }
        }
    }
    fprintf(stderr, "mhist: by usable size (size: count, per call)\n");
    for (int s = 0; s < MAXS; s++)
        if (hist_count[s] * 20 >= calls) fprintf(stderr, "  %6d B: %8ld  %.2f/call  %.1f B/call\n", s, hist_count[s], (double)hist_count[s] / calls, (double)hist_count[s] * s / calls);
    fprintf(stderr, "  >=%d B: %ld allocations, %ld bytes\n", MAXS, big_count, big_bytes);
    static Stack sorted[STACK_SLOTS];
    memcpy(sorted, stacks, sizeof(Stack) * STACK_SLOTS);
    qsort(sorted, STACK_SLOTS, sizeof(Stack), by_bytes);
    dl_iterate_phdr(print_module, 0);
    fprintf(stderr, "mhist: by stack (top 40)\n");
    for (int i = 0; i < 40 && sorted[i].bytes > 0; i++) {
        fprintf(stderr, "stack %d: %ld live, %ld B, %.1f B/call:", i, sorted[i].count, sorted[i].bytes, (double)sorted[i].bytes / calls);
        for (int f = 0; f < FRAMES; f++) fprintf(stderr, " %p", sorted[i].frames[f]);
        fprintf(stderr, "\n");
    }
    release();
    ta_dump(calls);
    inside = 0;
}

/* Task-allocator allocations (async frames, mostly) made by compiled code through the PLT: counted by the caller's
   return address, so each async function's frame shows up under the function that called it. */
#include <dlfcn.h>
#define TA_SLOTS (1u << 22)
typedef struct { void *p; uint32_t size; void *caller; } TaSlot;
typedef struct { void *caller; long count; long bytes; } TaSite;
static TaSlot *ta_slots;
static TaSite ta_sites[4096];
static void *(*real_task_alloc)(size_t);
static void (*real_task_dealloc)(void *);
void *swift_task_alloc(size_t n) {
    if (!real_task_alloc) real_task_alloc = dlsym(RTLD_NEXT, "swift_task_alloc");
    void *p = real_task_alloc(n);
    if (atomic_load_explicit(&tracking, memory_order_relaxed)) {
        void *caller = __builtin_return_address(0);
        acquire();
        if (!ta_slots) ta_slots = mmap(0, sizeof(TaSlot) * TA_SLOTS, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        uint32_t i = phash(p) & (TA_SLOTS - 1);
        while (ta_slots[i].p && ta_slots[i].p != (void *)1) i = (i + 1) & (TA_SLOTS - 1);
        ta_slots[i].p = p; ta_slots[i].size = (uint32_t)n; ta_slots[i].caller = caller;
        release();
    }
    return p;
}
void swift_task_dealloc(void *p) {
    if (!real_task_dealloc) real_task_dealloc = dlsym(RTLD_NEXT, "swift_task_dealloc");
    if (ta_slots) {
        acquire();
        uint32_t i = phash(p) & (TA_SLOTS - 1);
        while (ta_slots[i].p) {
            if (ta_slots[i].p == p) { ta_slots[i].p = (void *)1; break; }
            i = (i + 1) & (TA_SLOTS - 1);
        }
        release();
    }
    real_task_dealloc(p);
}
static int ta_by_bytes(const void *a, const void *b) {
    long x = ((const TaSite *)a)->bytes, y = ((const TaSite *)b)->bytes;
    return (x < y) - (x > y);
}
static void ta_dump(long calls) {
    if (!ta_slots) { fprintf(stderr, "mhist: no swift_task_alloc seen (static runtime?)\n"); return; }
    int used = 0;
    long total = 0;
    for (uint32_t i = 0; i < TA_SLOTS; i++) {
        if (!ta_slots[i].p || ta_slots[i].p == (void *)1) continue;
        int j = 0;
        while (j < used && ta_sites[j].caller != ta_slots[i].caller) j++;
        if (j == used) { if (used == 4096) continue; ta_sites[used].caller = ta_slots[i].caller; ta_sites[used].count = 0; ta_sites[used].bytes = 0; used++; }
        ta_sites[j].count++; ta_sites[j].bytes += ta_slots[i].size;
        total += ta_slots[i].size;
    }
    qsort(ta_sites, used, sizeof(TaSite), ta_by_bytes);
    fprintf(stderr, "mhist: live swift_task_alloc since mark: %ld B, %.1f B per call; by caller:\n", total, (double)total / calls);
    for (int j = 0; j < used && j < 40; j++)
        fprintf(stderr, "  task-alloc %p: %ld live, %.2f/call, %.1f B/call (each %ld B)\n", ta_sites[j].caller, ta_sites[j].count,
                (double)ta_sites[j].count / calls, (double)ta_sites[j].bytes / calls, ta_sites[j].count ? ta_sites[j].bytes / ta_sites[j].count : 0);
}

void *malloc(size_t n) { void *p = __libc_malloc(n); track(p); return p; }
void *calloc(size_t a, size_t b) { void *p = __libc_calloc(a, b); track(p); return p; }
void *realloc(void *q, size_t n) { untrack(q); void *p = __libc_realloc(q, n); track(p); return p; }
void free(void *p) { untrack(p); __libc_free(p); }
int posix_memalign(void **out, size_t align, size_t n) { void *p = __libc_memalign(align, n); if (!p) return 12; *out = p; track(p); return 0; }
void *aligned_alloc(size_t align, size_t n) { void *p = __libc_memalign(align, n); track(p); return p; }
void *memalign(size_t align, size_t n) { void *p = __libc_memalign(align, n); track(p); return p; }
