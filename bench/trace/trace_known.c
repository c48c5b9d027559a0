/**
 * @file trace_known.c
 * @brief A program making a known sequence of allocation calls, for the
 *        tracer's tests (trace_check known; bench/trace/testdata/known*.hat).
 *
 * usage: trace_known                 the known sequence (below)
 *        trace_known stress N T      T threads making N random calls each
 *
 * The known sequence is made of sections, each opened and closed by a
 * marker: malloc(MARK_BASE + n), which fails (more than PTRDIFF_MAX) and so
 * changes nothing; between two markers the program makes no other call
 * (libc's own calls, e.g. stdio's buffer or pthread_create's, stay outside).
 *   section 1-2, main thread: every kind, realloc's edge cases, failures
 *   section 3-4, a second thread
 *   section 5-6, main thread again: frees the second thread's blocks
 *   then fork(); section 7-8 in the child: frees an inherited block,
 *   reallocates another, then exit(0)
 * trace_check.c's tables hold the expected records. On stdout:
 *   "moves: G S" (the grow realloc of section 1 moved or not: 1/0, the
 *   shrink one), and from the child "child-moves: C".
 */
#define _GNU_SOURCE
#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* volatile: the compiler sees neither the sizes nor what becomes of the
 * pointers, so every call is made as written */
static volatile size_t mark_base = SIZE_MAX - 1000;
static volatile size_t huge = SIZE_MAX / 2;
static void *volatile sink;

static void mark(unsigned n) {
    sink = malloc(mark_base + n);
}

static void *section_thread(void *arg) {
    void **out = arg;
    mark(3);
    void *t1 = malloc(1000);
    void *t2 = malloc(33);
    free(t1);
    void *t3 = calloc(1, 5);
    mark(4);
    out[0] = t2;
    out[1] = t3;
    return NULL;
}

static int known(void) {
    void *x = NULL;
    mark(1);
    void *a = malloc(100);
    void *b = calloc(10, 20);
    free(a);
    void *c = malloc(7);
    void *d = malloc(8);
    uintptr_t c0 = (uintptr_t)c; /* an integer: comparing freed pointers is not C */
    c = realloc(c, 4000);         /* d sits after c: moves */
    int grow_moved = (uintptr_t)c != c0;
    c0 = (uintptr_t)c;
    c = realloc(c, 100); /* glibc shrinks in place */
    int shrink_moved = (uintptr_t)c != c0;
    void *e = realloc(NULL, 50);
    sink = realloc(e, 0); /* glibc: frees e, returns NULL */
    free(NULL);
    sink = malloc(huge);
    sink = calloc(huge, 4);
    if (realloc(c, huge)) /* fails, c stays */
        return 1;
    void *f = NULL;
    if (posix_memalign(&f, 64, 200) != 0)
        return 1;
    if (posix_memalign(&x, 3, 10) == 0) /* EINVAL */
        return 1;
    void *g = aligned_alloc(128, 256);
    void *h = memalign(32, 33);
    void *i = valloc(10);
    void *j = pvalloc(10);
    void *k = reallocarray(NULL, 3, 5);
    if (reallocarray(k, huge, 4)) /* overflows: fails, k stays */
        return 1;
    sink = reallocarray(k, 0, 8); /* realloc(k, 0): frees k */
    void *big = malloc(200000);      /* mmapped */
    free(big);
    free(d);
    free(f);
    free(g);
    free(h);
    free(i);
    free(j);
    mark(2);
    if (!b || !c || !d || !f || !g || !h || !i || !j || !k || !big)
        return 1;

    void *from_thread[2];
    pthread_t th;
    if (pthread_create(&th, NULL, section_thread, from_thread) != 0 || pthread_join(th, NULL) != 0)
        return 1;
    mark(5);
    free(from_thread[0]);
    free(from_thread[1]);
    mark(6);

    printf("moves: %d %d\n", grow_moved, shrink_moved);
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0)
        return 1;
    if (pid == 0) {
        mark(7);
        free(b);
        c0 = (uintptr_t)c;
        c = realloc(c, 50);
        void *m = malloc(64);
        free(m);
        mark(8);
        printf("child-moves: %d\n", (uintptr_t)c != c0);
        exit(0);
    }
    int st;
    if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
        return 1;
    free(c);
    return 0;
}

struct stress_arg {
    unsigned n;
    uint64_t seed;
};

#define STRESS_SLOTS 64

static void *stress_thread(void *p) {
    struct stress_arg *a = p;
    void *slot[STRESS_SLOTS] = {0};
    uint64_t s = a->seed;
    for (unsigned i = 0; i < a->n; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        unsigned r = (unsigned)(s >> 33);
        unsigned k = r % STRESS_SLOTS;
        size_t size = (r >> 8) % 2048;
        switch ((r >> 20) % 6) {
        case 0:
        case 1:
            free(slot[k]);
            slot[k] = malloc(size);
            break;
        case 2: {
            void *q = realloc(slot[k], size);
            if (q || size == 0)
                slot[k] = q;
            break;
        }
        case 3:
            free(slot[k]);
            slot[k] = calloc(1 + size % 7, 16);
            break;
        case 4:
            free(slot[k]);
            slot[k] = aligned_alloc(64, 64 * (1 + size % 8));
            break;
        default:
            free(slot[k]);
            slot[k] = NULL;
        }
    }
    for (unsigned k = 0; k < STRESS_SLOTS; k++)
        free(slot[k]);
    return NULL;
}

static int stress(unsigned n, unsigned nthreads) {
    pthread_t th[64];
    struct stress_arg args[64];
    if (nthreads > 64)
        nthreads = 64;
    for (unsigned t = 0; t < nthreads; t++) {
        args[t].n = n;
        args[t].seed = 1 + t;
        if (pthread_create(&th[t], NULL, stress_thread, &args[t]) != 0)
            return 1;
    }
    struct stress_arg mine = {n, 99};
    stress_thread(&mine);
    for (unsigned t = 0; t < nthreads; t++)
        pthread_join(th[t], NULL);
    return 0;
}

int main(int argc, char **argv) {
    if (argc == 4 && strcmp(argv[1], "stress") == 0)
        return stress((unsigned)strtoul(argv[2], NULL, 10), (unsigned)strtoul(argv[3], NULL, 10));
    if (argc != 1) {
        fprintf(stderr, "usage: trace_known [stress N THREADS]\n");
        return 2;
    }
    return known();
}
