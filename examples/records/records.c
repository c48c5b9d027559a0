/*
 * examples/records/records.c: the record parser of records.h, on the app
 * heap. It holds one planted heap bug (below, "PLANTED BUG"), which
 * -DRECORDS_FIXED removes.
 */

#include "records.h"

#include <stdbool.h>
#include <string.h>

#include "app_mem_utils.h"

/* What is left of the input. */
typedef struct {
    const uint8_t *p;
    size_t left;
} cursor_t;

/* The next n bytes in *out; false when fewer are left. */
static bool take(cursor_t *c, size_t n, const uint8_t **out)
{
    if (n > c->left) {
        return false;
    }
    *out = c->p;
    c->p += n;
    c->left -= n;
    return true;
}

/* A copy of p[0..n) in rec's data (none for n == 0); false when out of memory. */
static bool copy_data(record_t *rec, const uint8_t *p, size_t n)
{
    rec->size = n;
    if (n == 0u) {
        return true;
    }
    rec->data = APP_MEM_ALLOC(n);
    if (rec->data == NULL) {
        return false;
    }
    memcpy(rec->data, p, n);
    return true;
}

/* "key=value", or a flag: a payload without '='. */
static bool parse_setting(record_t *rec, const uint8_t *p, size_t n)
{
    const uint8_t *eq = memchr(p, '=', n);
    size_t key = eq != NULL ? (size_t)(eq - p) : n;
    if (key == 0u || memchr(p, '\0', key) != NULL || (eq == NULL && p[0] != '+' && p[0] != '-')) {
        return false;
    }
    if (eq == NULL) {
        /* A flag: "+name" or "-name", the whole payload its name. */
#ifdef RECORDS_FIXED
        rec->name = APP_MEM_ALLOC(n + 1u);
#else
        /* PLANTED BUG: an off-by-one. The name takes n bytes and its NUL, but
         * the block is n bytes long, so the NUL goes 1 byte past its end:
         * onto hardalloc's canary, which the free in records_free finds
         * broken (MEM_FAULT_OVERFLOW). Only a flag takes this path, and the
         * seeds hold none: the fuzzer has to make one. */
        rec->name = APP_MEM_ALLOC(n); /* LINE:planted-alloc */
#endif
        if (rec->name == NULL) {
            return false;
        }
        memcpy(rec->name, p, n);
        rec->name[n] = '\0'; /* LINE:planted-write (1 byte past the block) */
        return true;
    }
    rec->name = APP_MEM_ALLOC(key + 1u);
    if (rec->name == NULL) {
        return false;
    }
    memcpy(rec->name, p, key);
    rec->name[key] = '\0';
    return copy_data(rec, eq + 1, n - key - 1u);
}

/* p[0..n) appended to rec's data; false (data unchanged) when out of memory. */
static bool append(record_t *rec, const uint8_t *p, size_t n)
{
    if (n == 0u) {
        return true;
    }
    uint8_t *grown = APP_MEM_REALLOC(rec->data, rec->size + n);
    if (grown == NULL) {
        return false;
    }
    memcpy(grown + rec->size, p, n);
    rec->data = grown;
    rec->size += n;
    return true;
}

records_t *records_parse(const uint8_t *data, size_t size)
{
    cursor_t in = {data, size};
    const uint8_t *count;
    if (data == NULL || !take(&in, 1u, &count)) {
        return NULL;
    }
    records_t *list = APP_MEM_ALLOC(sizeof *list);
    if (list == NULL) {
        return NULL;
    }
    *list = (records_t){NULL, 0u};
    record_t **tail = &list->first;
    record_t *last = NULL;
    for (size_t i = 0, n = *count; i < n; i++) {
        const uint8_t *head;
        const uint8_t *payload;
        if (!take(&in, 3u, &head)) {
            goto fail;
        }
        size_t len = (size_t)head[1] | (size_t)head[2] << 8;
        if (!take(&in, len, &payload)) {
            goto fail;
        }
        if (head[0] == RECORD_MORE) {
            if (last == NULL || !append(last, payload, len)) {
                goto fail;
            }
            continue;
        }
        if (head[0] != RECORD_SETTING && head[0] != RECORD_BLOB) {
            goto fail;
        }
        record_t *rec = APP_MEM_ALLOC(sizeof *rec);
        if (rec == NULL) {
            goto fail;
        }
        /* Linked at once, so that records_free frees it however far it got. */
        *rec = (record_t){.type = head[0]};
        *tail = rec;
        tail = &rec->next;
        last = rec;
        list->count++;
        bool ok;
        if (head[0] == RECORD_SETTING) {
            ok = parse_setting(rec, payload, len);
        } else {
            rec->name = APP_MEM_STRDUP("blob");
            ok = rec->name != NULL && copy_data(rec, payload, len);
        }
        if (!ok) {
            goto fail;
        }
    }
    if (in.left == 0u) {
        return list;
    }
fail:
    records_free(list);
    return NULL;
}

const record_t *records_find(const records_t *list, const char *name)
{
    for (const record_t *r = list != NULL ? list->first : NULL; r != NULL; r = r->next) {
        if (strcmp(r->name, name) == 0) {
            return r;
        }
    }
    return NULL;
}

void records_free(records_t *list)
{
    if (list == NULL) {
        return;
    }
    record_t *rec = list->first;
    while (rec != NULL) {
        record_t *next = rec->next;
        APP_MEM_FREE(rec->name);
        APP_MEM_FREE(rec->data);
        APP_MEM_FREE(rec);
        rec = next;
    }
    APP_MEM_FREE(list);
}
