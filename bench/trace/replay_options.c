/**
 * @file replay_options.c
 * @brief trace_replay's command line (replay_options.h).
 */
#include "replay_options.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "replay_engine.h" /* REPLAY_MAX_ARENA */

static void usage(FILE *f) {
    fprintf(f, "usage: trace_replay [--rounds R] [--arena-factor F | --arena BYTES] [--json FILE] "
               "[--peer NAME=PATH.so]... [--only NAME[,NAME...]] TRACE...\n");
}

static bool parse_num(const char *s, double *out, bool integer, double max) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !(v > 0) || v > max)
        return false;
    if (integer && v != (double)(uint64_t)v)
        return false;
    *out = v;
    return true;
}

static bool is_builtin(const char *name) {
    for (size_t i = 0; i < replay_builtin_count; i++) {
        if (strcmp(name, replay_builtin_keys[i]) == 0)
            return true;
    }
    return strncmp(name, "hardalloc-", 10) == 0;
}

/* --peer NAME=PATH: NAME of [A-Za-z0-9_.+-], not a built-in name, not twice. */
static bool parse_peer(const char *arg, replay_options *o) {
    const char *eq = strchr(arg, '=');
    size_t len = eq ? (size_t)(eq - arg) : 0;
    if (!eq || len == 0 || len > REPLAY_NAME_MAX || !eq[1]) {
        fprintf(stderr, "trace_replay: bad --peer %s (NAME=PATH.so, NAME of 1..%d letters, "
                        "digits, '_', '.', '+', '-')\n", arg, REPLAY_NAME_MAX);
        return false;
    }
    if (o->n_peers == REPLAY_MAX_BACKENDS) {
        fprintf(stderr, "trace_replay: more than %d --peer libraries\n", REPLAY_MAX_BACKENDS);
        return false;
    }
    replay_peer_arg *p = &o->peers[o->n_peers];
    memcpy(p->name, arg, len);
    p->name[len] = '\0';
    for (size_t i = 0; i < len; i++) {
        char c = p->name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == '+' || c == '-')) {
            fprintf(stderr, "trace_replay: bad --peer %s (NAME=PATH.so, NAME of 1..%d letters, "
                            "digits, '_', '.', '+', '-')\n", arg, REPLAY_NAME_MAX);
            return false;
        }
    }
    if (is_builtin(p->name)) {
        fprintf(stderr, "trace_replay: --peer %s: %s is a built-in back end's name\n", arg,
                p->name);
        return false;
    }
    for (size_t i = 0; i < o->n_peers; i++) {
        if (strcmp(o->peers[i].name, p->name) == 0) {
            fprintf(stderr, "trace_replay: --peer %s: %s given twice\n", arg, p->name);
            return false;
        }
    }
    p->path = eq + 1;
    o->n_peers++;
    return true;
}

int replay_parse_options(int argc, char **argv, replay_options *o) {
    memset(o, 0, sizeof *o);
    o->rounds = 5;
    o->factor = 2.0;
    bool factor_given = false;
    int i = 1;
    for (; i < argc; i++) {
        const char *a = argv[i];
        double v;
        if (strcmp(a, "--") == 0) {
            i++;
            break;
        } else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 1;
        } else if (strcmp(a, "--rounds") == 0 && i + 1 < argc) {
            if (!parse_num(argv[++i], &v, true, 10000)) {
                fprintf(stderr, "trace_replay: bad --rounds %s (a whole number 1..10000)\n",
                        argv[i]);
                return 2;
            }
            o->rounds = (unsigned)v;
        } else if (strcmp(a, "--arena-factor") == 0 && i + 1 < argc) {
            if (!parse_num(argv[++i], &v, false, 64.0) || v < 1.0) {
                fprintf(stderr, "trace_replay: bad --arena-factor %s (a number 1..64)\n", argv[i]);
                return 2;
            }
            o->factor = v;
            factor_given = true;
        } else if (strcmp(a, "--arena") == 0 && i + 1 < argc) {
            if (!parse_num(argv[++i], &v, true, (double)REPLAY_MAX_ARENA) || v < 256) {
                fprintf(stderr, "trace_replay: bad --arena %s (bytes, a whole number 256..%zu)\n",
                        argv[i], REPLAY_MAX_ARENA);
                return 2;
            }
            o->arena = (size_t)v & ~(size_t)7u;
        } else if (strcmp(a, "--json") == 0 && i + 1 < argc) {
            o->json_path = argv[++i];
        } else if (strcmp(a, "--peer") == 0 && i + 1 < argc) {
            if (!parse_peer(argv[++i], o))
                return 2;
        } else if (strcmp(a, "--only") == 0 && i + 1 < argc) {
            o->only = argv[++i];
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "trace_replay: unknown or incomplete option %s\n", a);
            usage(stderr);
            return 2;
        } else {
            break;
        }
    }
    if (factor_given && o->arena) {
        fprintf(stderr, "trace_replay: --arena and --arena-factor exclude each other\n");
        return 2;
    }
    if (i >= argc) {
        usage(stderr);
        return 2;
    }
    o->first_trace = i;
    return 0;
}

bool replay_wanted(const replay_options *o, const char *key) {
    if (!o->only)
        return true;
    size_t len = strlen(key);
    for (const char *s = o->only; *s;) {
        const char *end = strchr(s, ',');
        size_t n = end ? (size_t)(end - s) : strlen(s);
        if (n == len && strncmp(s, key, len) == 0)
            return true;
        if (!end)
            break;
        s = end + 1;
    }
    return false;
}

bool replay_check_only(const replay_options *o) {
    if (!o->only)
        return true;
    for (const char *s = o->only;;) {
        const char *end = strchr(s, ',');
        size_t n = end ? (size_t)(end - s) : strlen(s);
        bool known = false;
        for (size_t i = 0; i < replay_builtin_count && !known; i++)
            known = strlen(replay_builtin_keys[i]) == n &&
                    strncmp(s, replay_builtin_keys[i], n) == 0;
        for (size_t i = 0; i < o->n_peers && !known; i++)
            known = strlen(o->peers[i].name) == n && strncmp(s, o->peers[i].name, n) == 0;
        if (!known) {
            fprintf(stderr, "trace_replay: --only: unknown back end '%.*s' (known: off, "
                            "standard, paranoid, glibc, mimalloc, jemalloc, tcmalloc%s)\n",
                    (int)n, s, o->n_peers ? " and the --peer names" : "");
            return false;
        }
        if (!end)
            return true;
        s = end + 1;
    }
}
