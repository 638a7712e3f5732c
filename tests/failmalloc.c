/*
** failmalloc.c: a heap that runs out on cue, LD_PRELOADed into reelc by
** faults.test (SQLite's faultsim idea).  With REEL_FAIL_AT=N, the Nth call
** of malloc, calloc or realloc after the program starts, and every call
** after it, returns NULL, as a full heap would.  With REEL_COUNT_ALLOCS
** set, the number of calls is written to stderr at exit, as
** "failmalloc: N allocations".  glibc only: the real allocator is reached
** through its __libc_* entry points.
*/
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void *__libc_malloc(size_t n);
void *__libc_calloc(size_t n, size_t size);
void *__libc_realloc(void *p, size_t n);

static long fail_at, calls;
static int counting;

__attribute__((constructor)) static void arm(void)
{
    const char *s = getenv("REEL_FAIL_AT");
    fail_at = s ? atol(s) : 0;
    counting = getenv("REEL_COUNT_ALLOCS") != NULL;
}

__attribute__((destructor)) static void report(void)
{
    char buf[64], *p = buf + sizeof buf;
    const char *head = "failmalloc: ";
    unsigned long v = (unsigned long)calls;
    if (!counting) return;
    *--p = '\n';
    memcpy(p -= 12, " allocations", 12);
    do *--p = (char)('0' + v % 10); while ((v /= 10) != 0);
    if (write(2, head, strlen(head)) < 0 || write(2, p, (size_t)(buf + sizeof buf - p)) < 0) return;
}

static int out_of_memory(void)
{
    if (++calls < fail_at || fail_at <= 0) return 0;
    errno = ENOMEM;
    return 1;
}

void *malloc(size_t n) { return out_of_memory() ? NULL : __libc_malloc(n); }
void *calloc(size_t n, size_t size) { return out_of_memory() ? NULL : __libc_calloc(n, size); }
void *realloc(void *p, size_t n) { return out_of_memory() ? NULL : __libc_realloc(p, n); }
