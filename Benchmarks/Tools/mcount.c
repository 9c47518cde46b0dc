/* A counting malloc for burst-bench: build with `gcc -O2 -shared -fPIC -o libmcount.so mcount.c` and run the bench
   under LD_PRELOAD=./libmcount.so; it counts malloc, calloc and realloc calls and exports the total as
   mcount_total(), which the bench looks up with dlsym. */
#include <stddef.h>
#include <stdatomic.h>
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern int __libc_posix_memalign(void **, size_t, size_t);
static atomic_long count;
long mcount_total(void) { return atomic_load_explicit(&count, memory_order_relaxed); }
void *malloc(size_t n) { atomic_fetch_add_explicit(&count, 1, memory_order_relaxed); return __libc_malloc(n); }
void *calloc(size_t a, size_t b) { atomic_fetch_add_explicit(&count, 1, memory_order_relaxed); return __libc_calloc(a, b); }
void *realloc(void *p, size_t n) { atomic_fetch_add_explicit(&count, 1, memory_order_relaxed); return __libc_realloc(p, n); }
