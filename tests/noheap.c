/*
** noheap.c: link this file into a program to prove it never touches the
** heap.  It defines the C and POSIX allocation functions; each one reports
** its own name on stderr and aborts, so any allocation at all (including
** one made inside libc, e.g. by fopen or by a stdio buffer) kills the
** program with SIGABRT.  glibc supports replacing malloc this way, and its
** dynamic loader uses a private allocator, so a program that does not
** allocate starts and exits normally.
**
** Builds clean with -std=c99 -Wall -Wextra -Werror -pedantic.
*/
#define _POSIX_C_SOURCE 200112L /* for write(2); this file is its own unit */
#include <stddef.h>
#include <stdlib.h>
#include <unistd.h>

void *malloc(size_t n);
void *calloc(size_t n, size_t size);
void *realloc(void *p, size_t n);
void free(void *p);
void *aligned_alloc(size_t align, size_t n);
int posix_memalign(void **p, size_t align, size_t n);
void *memalign(size_t align, size_t n);
void *valloc(size_t n);
void *pvalloc(size_t n);

/* Report on fd 2 without stdio (stdio could allocate) and abort. */
static void die(const char *fn)
{
    static const char head[] = "noheap: ";
    static const char tail[] = "() called: the program used the heap\n";
    size_t n = 0;
    while (fn[n]) n++;
    if (write(2, head, sizeof head - 1) < 0 || write(2, fn, n) < 0
        || write(2, tail, sizeof tail - 1) < 0) {
        /* nothing more we can do */
    }
    abort();
}

void *malloc(size_t n) { (void)n; die("malloc"); return NULL; }
void *calloc(size_t n, size_t size) { (void)n; (void)size; die("calloc"); return NULL; }
void *realloc(void *p, size_t n) { (void)p; (void)n; die("realloc"); return NULL; }
void *aligned_alloc(size_t a, size_t n) { (void)a; (void)n; die("aligned_alloc"); return NULL; }
void *memalign(size_t a, size_t n) { (void)a; (void)n; die("memalign"); return NULL; }
void *valloc(size_t n) { (void)n; die("valloc"); return NULL; }
void *pvalloc(size_t n) { (void)n; die("pvalloc"); return NULL; }
int posix_memalign(void **p, size_t a, size_t n)
{
    (void)p; (void)a; (void)n;
    die("posix_memalign");
    return 12; /* ENOMEM, never reached */
}

/* free(NULL) is harmless and some libc paths do it; anything else means a
** block that came from somewhere we cannot see. */
void free(void *p) { if (p) die("free"); }
