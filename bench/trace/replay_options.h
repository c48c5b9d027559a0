/**
 * @file replay_options.h
 * @brief trace_replay's command line (usage in replay.c's header comment).
 */
#ifndef REPLAY_OPTIONS_H
#define REPLAY_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>

#include "replay_backend.h"

typedef struct replay_peer_arg {
    char name[REPLAY_NAME_MAX + 1];
    const char *path;
} replay_peer_arg;

typedef struct replay_options {
    unsigned rounds;        /* --rounds (5) */
    double factor;          /* --arena-factor (2) */
    size_t arena;           /* --arena: 0 when not given */
    const char *json_path;  /* --json, or NULL */
    const char *only;       /* --only's list, or NULL */
    replay_peer_arg peers[REPLAY_MAX_BACKENDS];
    size_t n_peers;
    int first_trace;        /* argv index of the first trace */
} replay_options;

/* Parses argv into *o. 0: parsed; 1: --help printed (exit 0); 2: a usage
 * error, its one line printed (exit 2). --peer names are checked here
 * (letters, digits, '_', '.', '+', '-'; not a built-in name; not twice);
 * their libraries are loaded later. */
int replay_parse_options(int argc, char **argv, replay_options *o);

/* Whether --only keeps the back end key (no --only: every back end). */
bool replay_wanted(const replay_options *o, const char *key);

/* Whether every --only name is a back end's (built-in or --peer); false
 * after printing the one line naming the unknown one. */
bool replay_check_only(const replay_options *o);

#endif /* REPLAY_OPTIONS_H */
