/**
 * @file child_capture.h
 * @brief Runs a call in a child process with its stderr captured: how the
 *        tests check the default fault handler, whose line goes to stderr
 *        and which then aborts. Shared by the app-wrapper tests and the
 *        attack and fault tests (attacks/attack_util.h).
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
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

/**
 * Runs fn(arg) in a child process whose stderr is captured into out (cap
 * bytes, NUL-terminated, the rest dropped); the child exits 0 if fn
 * returns. Returns the child's wait status.
 */
static inline int run_captured(void (*fn)(void *), void *arg, char *out, size_t cap)
{
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    assert_int_equal(fflush(NULL), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        (void)close(fds[0]);
        if (dup2(fds[1], STDERR_FILENO) < 0) {
            _exit(2);
        }
        fn(arg);
        _exit(0);
    }
    (void)close(fds[1]);
    size_t n = 0;
    for (;;) {
        char spill[256]; /* past cap: read and dropped, so the child never blocks */
        bool room = n < cap - 1u;
        ssize_t r = room ? read(fds[0], out + n, cap - 1u - n) : read(fds[0], spill, sizeof spill);
        if (r <= 0) {
            break;
        }
        n += room ? (size_t)r : 0u;
    }
    out[n] = '\0';
    (void)close(fds[0]);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    return status;
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
