/* Growable vectors, the live-block map, the freed set and site interning. */
#include <stdlib.h>
#include <string.h>

#include "vg_internal.h"

void vg_vec_init(vg_vec *v, size_t elem)
{
    v->data = NULL;
    v->len = v->cap = 0;
    v->elem = elem;
}

void vg_vec_free(vg_vec *v)
{
    free(v->data);
    v->data = NULL;
    v->len = v->cap = 0;
}

int vg_vec_reserve(vg_vec *v, size_t need)
{
    if (need <= v->cap)
        return 1;
    size_t cap = v->cap ? v->cap : 16;
    while (cap < need) {
        if (cap > SIZE_MAX / 2 / v->elem)
            return 0;
        cap *= 2;
    }
    void *d = realloc(v->data, cap * v->elem);
    if (d == NULL)
        return 0;
    v->data = d;
    v->cap = cap;
    return 1;
}

void *vg_vec_push(vg_vec *v)
{
    if (!vg_vec_reserve(v, v->len + 1))
        return NULL;
    char *p = (char *)v->data + v->len * v->elem;
    memset(p, 0, v->elem);
    v->len++;
    return p;
}

int vg_vec_append(vg_vec *v, const void *bytes, size_t n)
{
    if (n == 0)
        return 1;
    if (!vg_vec_reserve(v, v->len + n))
        return 0;
    memcpy((char *)v->data + v->len, bytes, n);
    v->len += n;
    return 1;
}

/* -- ptr -> block ------------------------------------------------------------------ */
static size_t hash64(uint64_t k, size_t mask)
{
    /* the addresses of one heap differ in their low bits: mix them up */
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdULL;
    k ^= k >> 33;
    return (size_t)k & mask;
}

void vg_map_free(vg_map *m)
{
    free(m->slots);
    free(m->used);
    memset(m, 0, sizeof *m);
}

vg_block *vg_map_get(vg_map *m, uint64_t ptr)
{
    if (m->cap == 0)
        return NULL;
    size_t mask = m->cap - 1;
    for (size_t i = hash64(ptr, mask);; i = (i + 1) & mask) {
        if (!m->used[i])
            return NULL;
        if (m->slots[i].ptr == ptr)
            return &m->slots[i];
    }
}

static int map_grow(vg_map *m)
{
    size_t cap = m->cap ? m->cap * 2 : 64;
    if (cap > SIZE_MAX / sizeof(vg_block))
        return 0;
    vg_block *slots = malloc(cap * sizeof *slots);
    uint8_t *used = calloc(cap, 1);
    if (slots == NULL || used == NULL) {
        free(slots);
        free(used);
        return 0;
    }
    size_t mask = cap - 1;
    for (size_t j = 0; j < m->cap; j++) {
        if (!m->used[j])
            continue;
        size_t i = hash64(m->slots[j].ptr, mask);
        while (used[i])
            i = (i + 1) & mask;
        used[i] = 1;
        slots[i] = m->slots[j];
    }
    free(m->slots);
    free(m->used);
    m->slots = slots;
    m->used = used;
    m->cap = cap;
    return 1;
}

vg_block *vg_map_put(vg_map *m, uint64_t ptr)
{
    if ((m->len + 1) * 4 > m->cap * 3 && !map_grow(m))
        return NULL;
    size_t mask = m->cap - 1;
    size_t i = hash64(ptr, mask);
    for (; m->used[i]; i = (i + 1) & mask)
        if (m->slots[i].ptr == ptr)
            return &m->slots[i];
    m->used[i] = 1;
    memset(&m->slots[i], 0, sizeof m->slots[i]);
    m->slots[i].ptr = ptr;
    m->len++;
    return &m->slots[i];
}

int vg_map_pop(vg_map *m, uint64_t ptr, vg_block *out)
{
    vg_block *b = vg_map_get(m, ptr);
    if (b == NULL)
        return 0;
    *out = *b;
    size_t mask = m->cap - 1;
    size_t hole = (size_t)(b - m->slots);
    /* backward shift: move up every later entry of the run that may live in the hole */
    for (size_t i = (hole + 1) & mask; m->used[i]; i = (i + 1) & mask) {
        size_t home = hash64(m->slots[i].ptr, mask);
        /* the entry at i may move to hole when home is not in (hole, i] (cyclically) */
        if (((i - home) & mask) >= ((i - hole) & mask)) {
            m->slots[hole] = m->slots[i];
            hole = i;
        }
    }
    m->used[hole] = 0;
    m->len--;
    return 1;
}

void vg_map_clear(vg_map *m)
{
    if (m->cap)
        memset(m->used, 0, m->cap);
    m->len = 0;
}

/* -- the freed set ------------------------------------------------------------------ */
void vg_set_free(vg_set *s)
{
    free(s->keys);
    free(s->gen);
    memset(s, 0, sizeof *s);
}

int vg_set_has(const vg_set *s, uint64_t key)
{
    if (s->cap == 0)
        return 0;
    size_t mask = s->cap - 1;
    for (size_t i = hash64(key, mask);; i = (i + 1) & mask) {
        if (s->gen[i] != s->now)
            return 0;
        if (s->keys[i] == key)
            return 1;
    }
}

static int set_grow(vg_set *s)
{
    size_t cap = s->cap ? s->cap * 2 : 64;
    if (cap > SIZE_MAX / sizeof(uint64_t))
        return 0;
    uint64_t *keys = malloc(cap * sizeof *keys);
    uint32_t *gen = calloc(cap, sizeof *gen);
    if (keys == NULL || gen == NULL) {
        free(keys);
        free(gen);
        return 0;
    }
    size_t mask = cap - 1;
    uint32_t now = 1;
    for (size_t j = 0; j < s->cap; j++) {
        if (s->gen[j] != s->now)
            continue;
        size_t i = hash64(s->keys[j], mask);
        while (gen[i] == now)
            i = (i + 1) & mask;
        gen[i] = now;
        keys[i] = s->keys[j];
    }
    free(s->keys);
    free(s->gen);
    s->keys = keys;
    s->gen = gen;
    s->cap = cap;
    s->now = now;
    return 1;
}

int vg_set_add(vg_set *s, uint64_t key)
{
    if (s->now == 0)
        s->now = 1;
    if ((s->len + 1) * 4 > s->cap * 3 && !set_grow(s))
        return 0;
    size_t mask = s->cap - 1;
    size_t i = hash64(key, mask);
    for (; s->gen[i] == s->now; i = (i + 1) & mask)
        if (s->keys[i] == key)
            return 1;
    s->gen[i] = s->now;
    s->keys[i] = key;
    s->len++;
    return 1;
}

void vg_set_clear(vg_set *s)
{
    s->len = 0;
    if (s->now == UINT32_MAX) {
        if (s->cap)
            memset(s->gen, 0, s->cap * sizeof *s->gen);
        s->now = 1;
        return;
    }
    s->now++;
}

/* -- interned strings -------------------------------------------------------------- */
void vg_strings_init(vg_strings *s)
{
    vg_vec_init(&s->blob, 1);
    vg_vec_init(&s->offs, sizeof(uint64_t));
    s->slots = NULL;
    s->cap = 0;
}

void vg_strings_free(vg_strings *s)
{
    vg_vec_free(&s->blob);
    vg_vec_free(&s->offs);
    free(s->slots);
    s->slots = NULL;
    s->cap = 0;
}

static size_t hash_bytes(const char *p, size_t n)
{
    uint64_t h = 1469598103934665603ULL;   /* FNV-1a */
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)p[i];
        h *= 1099511628211ULL;
    }
    return (size_t)(h ^ (h >> 29));
}

static const char *string_at(const vg_strings *s, uint32_t id, size_t *n)
{
    uint64_t start = VG_AT(&s->offs, uint64_t, id);
    uint64_t end = id + 1 < s->offs.len ? VG_AT(&s->offs, uint64_t, id + 1) : s->blob.len;
    *n = (size_t)(end - start);
    return (const char *)s->blob.data + start;
}

static int strings_grow(vg_strings *s)
{
    size_t cap = s->cap ? s->cap * 2 : 256;
    uint32_t *slots = calloc(cap, sizeof *slots);
    if (slots == NULL)
        return 0;
    for (uint32_t id = 0; id < s->offs.len; id++) {
        size_t n;
        const char *p = string_at(s, id, &n);
        size_t i = hash_bytes(p, n) & (cap - 1);
        while (slots[i])
            i = (i + 1) & (cap - 1);
        slots[i] = id + 1;
    }
    free(s->slots);
    s->slots = slots;
    s->cap = cap;
    return 1;
}

uint32_t vg_intern(vg_strings *s, const char *p, size_t n)
{
    if (s->offs.len >= UINT32_MAX - 1)
        return UINT32_MAX;
    if ((s->offs.len + 1) * 2 > s->cap && !strings_grow(s))
        return UINT32_MAX;
    size_t mask = s->cap - 1;
    size_t i = hash_bytes(p, n) & mask;
    for (; s->slots[i]; i = (i + 1) & mask) {
        size_t m;
        const char *q = string_at(s, s->slots[i] - 1, &m);
        if (m == n && memcmp(p, q, n) == 0)
            return s->slots[i] - 1;
    }
    uint64_t *off = vg_vec_push(&s->offs);
    if (off == NULL)
        return UINT32_MAX;
    *off = s->blob.len;
    if (!vg_vec_append(&s->blob, p, n)) {
        s->offs.len--;
        return UINT32_MAX;
    }
    uint32_t id = (uint32_t)(s->offs.len - 1);
    s->slots[i] = id + 1;
    return id;
}
