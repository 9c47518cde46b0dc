/* For valgrind 3.19 (Debian 12) on a Swift binary: libdispatch's dispatch_main() calls sigsuspend() with a
   `static const sigset_t`, and valgrind's rt_sigsuspend wrapper writes into the mask it is given, so every Swift
   executable dies at start with "VALGRIND INTERNAL ERROR ... SIGSEGV". This copies the mask first.
   Build: gcc -O2 -shared -fPIC -o /tmp/sigsuspend-shim.so sigsuspend-shim.c
   Use:   LD_PRELOAD=/tmp/sigsuspend-shim.so valgrind --tool=callgrind --fair-sched=yes ./echo-bench ...
   (valgrind 3.19 also cannot read DWARF 5: run a copy made with `strip --strip-debug`; the symbols stay.) */
#define _GNU_SOURCE
#include <signal.h>
#include <unistd.h>
#include <sys/syscall.h>
int sigsuspend(const sigset_t *mask) {
    sigset_t copy = *mask;
    return syscall(SYS_rt_sigsuspend, &copy, _NSIG / 8);
}
