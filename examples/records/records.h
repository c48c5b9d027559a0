/**
 * @file records.h
 * @brief An app module fuzzed on hardalloc: a parser of length-prefixed
 *        records that builds its objects on the app heap (APP_MEM_*).
 *
 * The example of docs/FUZZING.md "Fuzzing your own app": fuzz_records.c is
 * its libFuzzer harness, corpus/ its seeds, fuzz/apps.list registers it with
 * fuzz/campaign, and test_records.c replays what a campaign found.
 *
 * Input, every length checked against the input:
 *
 *     u8  count            records that follow (0 to 255)
 *     count times:
 *       u8  type           RECORD_SETTING, RECORD_BLOB or RECORD_MORE
 *       u16 length         payload bytes, little-endian
 *       u8  payload[length]
 *
 * and nothing after the last record.
 *
 *  - RECORD_SETTING: "key=value". The key (at least one byte, no NUL) is the
 *    record's name, the value (any bytes, possibly none) its data. A payload
 *    without '=' is a flag, "+name" or "-name" (no NUL): the whole payload is
 *    the record's name, and there is no data.
 *  - RECORD_BLOB: any bytes, the record's data; its name is "blob".
 *  - RECORD_MORE: more data for the record before it, appended to its data;
 *    it makes no record of its own.
 *
 * Memory: everything comes from the app heap (app_mem_utils.h), which the
 * caller has attached with mem_utils_init.
 *
 * As shipped the module holds ONE planted heap bug (records.c, "PLANTED
 * BUG"), which a fuzz campaign finds: the example exists to show that.
 * Built with -DRECORDS_FIXED it is the fixed module.
 */

#pragma once

#include <stddef.h>
#include <stdint.h>

/** Record types (the first byte of a record). */
enum {
    RECORD_SETTING = 1,
    RECORD_BLOB = 2,
    RECORD_MORE = 3,
};

/** One record: a setting, a flag or a blob. */
typedef struct record {
    struct record *next; ///< the next record in input order, or NULL
    uint8_t type;        ///< RECORD_SETTING or RECORD_BLOB
    char *name;          ///< NUL-terminated, never NULL
    uint8_t *data;       ///< size bytes (not NUL-terminated); NULL when size is 0
    size_t size;
} record_t;

/** A parsed input: its records in input order. */
typedef struct {
    record_t *first;
    size_t count;
} records_t;

/**
 * Parses one input.
 * @return the records (count of them; RECORD_MORE makes none), or NULL when
 *         the input is malformed (fewer records than count, bytes after the
 *         last one, an unknown type, an empty key, a NUL in a name, a flag
 *         without its sign, a RECORD_MORE with no record before it) or the
 *         app heap runs out;
 *         nothing stays allocated then. Free the result with records_free.
 */
records_t *records_parse(const uint8_t *data, size_t size);

/** @return the first record named name, or NULL (also for a NULL list). */
const record_t *records_find(const records_t *list, const char *name);

/** Frees list and everything it holds; NULL is a no-op. */
void records_free(records_t *list);
