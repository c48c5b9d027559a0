/**
 * @file child_capture.h
 * @brief Runs a call in a child process with its stderr captured: how the
 *        tests check the default fault handler, whose line goes to stderr
 *        and which then aborts. Shared by the app-wrapper tests and the
 *        attack and fault tests (attacks/attack_util.h); the sweeps run
 *        their batches of cases in children started by child_start.
 *
 * Needs POSIX (fork, pipe, dup2): define _POSIX_C_SOURCE before the first
 * include.
 */

#pragma once

#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

/** A child started by child_start: its pid, and the read end of its pipe. */
typedef struct {
    pid_t pid;
    int fd;
} child_t;

/**
 * Forks a child that runs fn(arg, fd), fd the write end of a pipe, and
 * exits 0 if fn returns. The parent reads what it writes at the returned
 * fd, then calls child_finish.
 */
static inline child_t child_start(void (*fn)(void *arg, int fd), void *arg)
{
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    assert_int_equal(fflush(NULL), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        (void)close(fds[0]);
        fn(arg, fds[1]);
        _exit(0);
    }
    (void)close(fds[1]);
    return (child_t){pid, fds[0]};
}

/** Closes the read end and waits for the child: returns its wait status. */
static inline int child_finish(child_t child)
{
    (void)close(child.fd);
    int status = 0;
    assert_int_equal(waitpid(child.pid, &status, 0), child.pid);
    return status;
}

/* A call whose stderr run_captured captures. */
typedef struct {
    void (*fn)(void *);
    void *arg;
} captured_call_t;

/* In the child, on SIGABRT: stderr closed, then the abort goes on with the
 * default action. qemu-user, which runs the tests of a cross build
 * (tools/cross/), writes its own "qemu: uncaught target signal 6" line to
 * the stderr of a program that dies of a signal; this keeps the capture to
 * what the program wrote. The child still dies of SIGABRT. */
static inline void captured_call_on_abort(int sig)
{
    (void)close(STDERR_FILENO);
    (void)signal(sig, SIG_DFL);
    (void)raise(sig); /* delivered once the handler returns */
}

/* In the child: stderr into the pipe, then the call. */
static inline void captured_call_run(void *call, int fd)
{
    const captured_call_t *c = call;
    if (dup2(fd, STDERR_FILENO) < 0) {
        _exit(2);
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = captured_call_on_abort;
    (void)sigemptyset(&sa.sa_mask);
    if (sigaction(SIGABRT, &sa, NULL) != 0) {
        _exit(2);
    }
    c->fn(c->arg);
}

/**
 * Runs fn(arg) in a child process whose stderr is captured into out (cap
 * bytes, NUL-terminated, the rest dropped); the child exits 0 if fn
 * returns. Returns the child's wait status.
 */
static inline int run_captured(void (*fn)(void *), void *arg, char *out, size_t cap)
{
    captured_call_t call = {fn, arg};
    child_t child = child_start(captured_call_run, &call);
    size_t n = 0;
    for (;;) {
        char spill[256]; /* past cap: read and dropped, so the child never blocks */
        bool room = n < cap - 1u;
        ssize_t r = room ? read(child.fd, out + n, cap - 1u - n) : read(child.fd, spill, sizeof spill);
        if (r <= 0) {
            break;
        }
        n += room ? (size_t)r : 0u;
    }
    out[n] = '\0';
    return child_finish(child);
}

/**
 * Runs fn(arg) in a child that must abort (SIGABRT) having written exactly
 * want on stderr: how the default fault handler's one line is checked.
 * Under valgrind too: memcheck writes to a descriptor of its own, never
 * into the captured stderr.
 */
static inline void expect_child_abort(void (*fn)(void *), void *arg, const char *want)
{
    char got[512];
    int status = run_captured(fn, arg, got, sizeof got);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGABRT);
    assert_string_equal(got, want);
}
