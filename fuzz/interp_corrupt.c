/*
 * The corruption mode of the interpreter (interp.h; fuzz_corrupt,
 * FORMAT.md "what must hold on a damaged heap"): the overwriting
 * operations, the model of the live blocks' canaries, and the fault-model
 * invariants checked around every operation of a run on a heap the program
 * may damage.
 */

#include "interp.h"

/* A call that reports a fault, and any call on a heap that refuses every
 * call (it failed, or its context is damaged), must hand out nothing: the
 * fault model's "the call does nothing and answers NULL, false or 0". */
void corrupt_refused(const run_t *r, bool ok, const char *what)
{
    if (r->faults == NULL || !ok) {
        return;
    }
    if (r->refusing) {
        fuzz_fail("fail-closed", "step %u: %s succeeded on a heap that failed", r->step, what);
    }
    if (r->faults->count != r->calls_before) {
        fuzz_fail("fault-answer", "step %u: %s reported %s and still succeeded", r->step, what,
                  mem_fault_name(r->faults->last));
    }
}

/* The converse, for the calls whose refusal shows in the answer (mem_check
 * false, zeroed statistics, a walk that calls back for no chunk: a heap
 * always has one): the heap is never silently dead. Our context stays in
 * the library's table of heaps, so whatever the program wrote over it, the
 * allocator knows it for a heap and reports why it refuses. */
void corrupt_reported(const run_t *r, bool answered, const char *what)
{
    if (r->faults == NULL || answered || r->faults->count != r->calls_before) {
        return;
    }
    fuzz_fail("silent-refusal", "step %u: %s refused (answered nothing) without reporting a fault%s", r->step, what,
              r->tainted ? " on a damaged heap" : "");
}

/* ---- the canary model and calls on live blocks ----------------------------- */

/* The canary sits right after the requested bytes (mem_alloc.h; the model
 * holds mem_usable_size to exactly the request), so a poke one byte past
 * them must be reported. */
void corrupt_note_canary(const run_t *r, slot_t *s)
{
    s->canary_known = false;
    if (r->faults == NULL || MEM_HARDENING == 0 || !predictable(r)) {
        return;
    }
    s->canary = load32(s->ptr + s->size);
    s->canary_known = true;
}

/* The live block of s had its tail canary changed by a corruption op. */
bool corrupt_canary_broken(const run_t *r, const slot_t *s)
{
    return r->faults != NULL && s->ptr != NULL && s->canary_known && !r->refusing &&
           load32(s->ptr + s->size) != s->canary;
}

/* After mem_free / mem_realloc of the live block of slot n: an overwritten
 * canary must have been reported (by this call: it checks the canary first),
 * and a block the program holds is never reported as misuse (double free,
 * invalid pointer): if the heap disagrees, the heap is what is damaged. */
void corrupt_check_live_call(const run_t *r, unsigned n, bool broken, const char *what)
{
    const fuzz_faults_t *f = r->faults;
    if (f == NULL || r->refusing) {
        return;
    }
    if (broken && f->count == r->calls_before) {
        fuzz_fail("overflow-reported", "step %u: %s of slot %u, whose tail canary was overwritten, reported nothing",
                  r->step, what, n);
    }
    uint32_t misuse = (uint32_t)1u << MEM_FAULT_DOUBLE_FREE | (uint32_t)1u << MEM_FAULT_INVALID_POINTER;
    if ((f->seen & misuse) != 0u) {
        fuzz_fail("live-not-misuse", "step %u: %s of the live block of slot %u was reported as %s", r->step, what, n,
                  (f->seen & (uint32_t)1u << MEM_FAULT_DOUBLE_FREE) ? "a double free" : "an invalid pointer");
    }
}

/* ---- corruption operations ------------------------------------------------ */

static bool is_corruption_code(mem_fault_t f)
{
    return f != MEM_FAULT_NONE && f != MEM_FAULT_DOUBLE_FREE && f != MEM_FAULT_INVALID_POINTER &&
           f <= MEM_FAULT_CORRUPT_CONTEXT;
}

/* ---- paranoid: a changed byte of poison is reported ------------------------ */

/* One walk for a corruption op's n bytes at arena offset off. */
typedef struct {
    run_t *r;
    size_t off, n;
    const uint8_t *bytes;
} poison_probe_t;

MODEL_CODE static bool find_poisoned(void *data, uint8_t *addr, bool allocated, size_t size)
{
    poison_probe_t *q = data;
    run_t *r = q->r;
    /* mem_alloc.h, heap_internal.h: the poison of a free chunk is all of it
     * but its header, links and tail word */
    size_t lo = (size_t)(addr - r->arena) + 8u, hi = (size_t)(addr - r->arena) - 8u + size - 4u;
    for (size_t k = 0; !allocated && k < q->n && r->n_poisoned < MAX_POISONED; k++) {
        size_t at = q->off + k;
        if (at >= lo && at < hi && r->arena[at] != q->bytes[k]) {
            r->poisoned[r->n_poisoned].at = at;
            r->poisoned[r->n_poisoned].value = q->bytes[k];
            r->poisoned[r->n_poisoned].reports = r->faults->count;
            r->n_poisoned++;
        }
    }
    return q->off + q->n <= hi + 4u; /* past the op's bytes: stop */
}

/* Paranoid, on an intact heap, before a corruption op writes n bytes at
 * off: the bytes it changes inside a free chunk's poison. Remembered until
 * the allocator reports a fault or rewrites the byte itself. */
static void note_poison(run_t *r, size_t off, const uint8_t *bytes, size_t n)
{
    if (MEM_HARDENING < 2 || r->ctx == NULL || !predictable(r)) {
        return;
    }
    poison_probe_t q = {r, off, n, bytes};
    mem_parse(r->ctx, find_poisoned, &q);
}

/* Drops the bytes the allocator rewrote (a header, links, a wipe) and, once
 * a fault was reported, all of them: the heap failed closed. */
static void forget_poison(run_t *r)
{
    unsigned kept = 0;
    for (unsigned k = 0; k < r->n_poisoned; k++) {
        if (r->arena[r->poisoned[k].at] == r->poisoned[k].value && r->faults->count == r->poisoned[k].reports) {
            r->poisoned[kept++] = r->poisoned[k];
        }
    }
    r->n_poisoned = kept;
}

/* A block handed out at p (n bytes requested): no changed poison byte lies
 * in its chunk unless a fault was reported first. What follows the chunk,
 * when the allocator split it off, got a header and links: the bytes there
 * are the allocator's from now on. */
MODEL_CODE void corrupt_check_poison(run_t *r, const uint8_t *p, size_t n)
{
    if (r->faults == NULL || r->n_poisoned == 0u) {
        return;
    }
    size_t lo = (size_t)(p - r->arena), hi = lo + n;
    size_t len = chunk_len(p);
    if (len > n && lo - 8u + len <= r->arena_size) {
        hi = lo - 8u + len; /* the whole chunk: its slack was poison too */
    }
    for (unsigned k = 0; k < r->n_poisoned; k++) {
        size_t at = r->poisoned[k].at;
        if (at >= lo && at < hi && r->faults->count == r->poisoned[k].reports) {
            fuzz_fail("poison-reported", "step %u: a block at heap+0x%zx (%zu bytes) was handed out over heap+0x%zx, "
                      "a byte of a free chunk's poison set to 0x%02x, and no fault was reported", r->step, lo, n, at,
                      r->poisoned[k].value);
        }
    }
    unsigned kept = 0;
    for (unsigned k = 0; k < r->n_poisoned; k++) {
        if (r->poisoned[k].at < hi || r->poisoned[k].at >= hi + 16u) {
            r->poisoned[kept++] = r->poisoned[k];
        }
    }
    r->n_poisoned = kept;
}

/* mem_check passed (no fault reported): no changed poison byte is left in
 * a free chunk, where paranoid's check reads every byte of poison. */
static void check_poison_checked(run_t *r, const char *what)
{
    forget_poison(r);
    if (r->n_poisoned != 0u) {
        fuzz_fail("poison-reported", "step %u: %s passed although heap+0x%zx, a byte of a free chunk's poison, was "
                  "set to 0x%02x", r->step, what, r->poisoned[0].at, r->poisoned[0].value);
    }
}

/* Writes n bytes at arena offset off: into a live block's payload the model
 * learns the new bytes; anywhere else the heap is tainted (its metadata, a
 * free chunk, slack). Every byte of the arena may be written. */
static void corrupt_bytes(run_t *r, size_t off, const uint8_t *bytes, size_t n)
{
    size_t ctx_at = (size_t)((uint8_t *)r->ctx - r->arena);
    unsigned to_payload = 0, to_meta = 0;
    note_poison(r, off, bytes, n);
    for (size_t k = 0; k < n; k++) {
        uint8_t *p = r->arena + off + k;
        if (*p == bytes[k]) {
            continue;
        }
        *p = bytes[k];
        slot_t *s = NULL;
        for (unsigned i = 0; i < FUZZ_SLOTS && s == NULL; i++) {
            if (r->slots[i].ptr != NULL && p >= r->slots[i].ptr && p < r->slots[i].ptr + r->slots[i].size) {
                s = &r->slots[i];
            }
        }
        if (s == NULL) {
            r->tainted = true;
            to_meta++;
            continue;
        }
        to_payload++;
        size_t i = (size_t)(p - s->ptr);
        unsigned k2 = 0;
        while (k2 < s->n_over && s->over_at[k2] != i) {
            k2++;
        }
        if (k2 == MAX_OVERRIDES) {
            model_fill(s); /* too many to remember: the block gets its pattern back */
            continue;
        }
        s->over_at[k2] = i;
        s->over_val[k2] = bytes[k];
        if (k2 == s->n_over) {
            s->n_over++;
        }
    }
    if (r->trace != NULL) {
        fprintf(r->trace, "   # heap+0x%zx (context+%ld): %u payload, %u other", off, (long)off - (long)ctx_at,
                to_payload, to_meta);
    }
}

/* The address OP_PLANT writes: an attacker's handler or user pointer, the
 * registered handler's, or a live block's (a fake context there). */
static void plant_bytes(const run_t *r, uint8_t what, uint8_t out[sizeof(void *)])
{
    const fuzz_plants_t *pl = r->t->plants;
    mem_fault_handler_t code;
    void *data;
    switch ((plant_kind_t)(what % 4u)) {
    case PLANT_HANDLER:
        code = pl->decoy_handler;
        memcpy(out, &code, sizeof code);
        break;
    case PLANT_USER:
        data = pl->decoy_user;
        memcpy(out, &data, sizeof data);
        break;
    case PLANT_REGISTERED:
        code = pl->registered;
        memcpy(out, &code, sizeof code);
        break;
    default: /* PLANT_BLOCK */
        data = r->slots[(what >> 2) % FUZZ_SLOTS].ptr;
        memcpy(out, &data, sizeof data);
        break;
    }
}

_Static_assert(sizeof(mem_fault_handler_t) == sizeof(void *), "plant writes code and data addresses alike");
_Static_assert(sizeof(void *) <= FUZZ_MAX_COPY, "a planted address fits the bytes of a corruption op");

void corrupt_op(run_t *r, const op_t *op)
{
    uint8_t bytes[FUZZ_MAX_COPY];
    size_t n, off;
    switch (op->kind) {
    case OP_POKE:
        n = 1u;
        off = op->offset % r->arena_size;
        bytes[0] = op->value;
        break;
    case OP_POKE32:
        n = 4u;
        off = op->offset % (r->arena_size - 3u);
        for (unsigned i = 0; i < 4u; i++) {
            bytes[i] = (uint8_t)(op->word >> (8u * i));
        }
        break;
    case OP_PLANT:
        n = sizeof(void *);
        off = op->offset % (r->arena_size - n + 1u);
        plant_bytes(r, op->value, bytes);
        break;
    default: /* OP_COPY */
        n = op->count;
        off = op->offset % (r->arena_size - n + 1u);
        memcpy(bytes, r->arena + op->word % (r->arena_size - n + 1u), n);
        break;
    }
    corrupt_bytes(r, off, bytes, n);
}

/* mem_free of any address in the arena: a live block's (then it is freed),
 * or interior, misaligned, stale (double free), context... */
void corrupt_free_at(run_t *r, const op_t *op)
{
    uint8_t *p = r->arena + op->offset % r->arena_size;
    for (unsigned i = 0; i < FUZZ_SLOTS; i++) {
        if (r->slots[i].ptr == p) {
            op_free_live(r, i, "free_at");
            if (r->trace != NULL) {
                fprintf(r->trace, "   # the block of slot %u", i);
            }
            return;
        }
    }
    r->t->free(r->ctx, p);
    const fuzz_faults_t *f = r->faults;
    if (f == NULL) {
        return;
    }
    unsigned calls = f->count - r->calls_before;
    if (r->trace != NULL) {
        fprintf(r->trace, "   # %s", calls ? mem_fault_name(f->last) : "no fault");
    }
    if (calls == 0u) {
        fuzz_fail("misuse-reported", "step %u: mem_free(heap+0x%zx), no block of the model, reported nothing",
                  r->step, (size_t)(p - r->arena));
    }
    if (predictable(r) && (calls != 1u || (f->last != MEM_FAULT_DOUBLE_FREE &&
                                           f->last != MEM_FAULT_INVALID_POINTER))) {
        fuzz_fail("misuse-reported", "step %u: on an intact heap mem_free(heap+0x%zx) reported %u faults, the last %s;"
                  " expected one double free or invalid pointer", r->step, (size_t)(p - r->arena), calls,
                  mem_fault_name(f->last));
    }
}

/* ---- around every operation ----------------------------------------------- */

/* A full check passed with no report (what: the call that ran it): any
 * damage it does not see must be harmless, so the model must hold in full
 * again; not so a changed byte of poison (paranoid), which it must see. */
void corrupt_check_passed(run_t *r, const char *what)
{
    check_poison_checked(r, what);
    r->tainted = false;
}

void corrupt_before_op(run_t *r)
{
    forget_poison(r);
    r->poison_before = r->n_poisoned != 0u;
    r->calls_before = r->faults->count;
    r->faults->seen = 0u;
    r->refusing = r->failed != MEM_FAULT_NONE;
}

/* After each operation in corruption mode: the fault codes, fail closed. */
void corrupt_after_op(run_t *r, const op_t *op, bool expects_call)
{
    const fuzz_faults_t *f = r->faults;
    unsigned calls = f->count - r->calls_before;
    if (r->trace != NULL && calls != 0u && op->kind != OP_FREE_AT) {
        fprintf(r->trace, "   # fault: %s%s", mem_fault_name(f->last), calls > 1u ? " (more than once)" : "");
    }
    bool corruption_op = op->kind == OP_POKE || op->kind == OP_POKE32 || op->kind == OP_COPY || op->kind == OP_PLANT;
    if (f->invalid != 0u) {
        fuzz_fail("fault-code", "step %u: the handler was called with %d, which is no fault code", r->step,
                  (int)f->last);
    }
    mem_fault_t lf = mem_last_fault(r->ctx);
    if (lf != MEM_FAULT_NONE && !is_corruption_code(lf)) {
        fuzz_fail("fault-code", "step %u: mem_last_fault is %d (%s), not a corruption fault", r->step, (int)lf,
                  mem_fault_name(lf));
    }
    if (corruption_op) {
        if (lf != r->failed && r->failed != MEM_FAULT_NONE) {
            r->model_lost = true; /* the state word itself was rewritten */
        }
        r->failed = lf;
        return;
    }
    if (r->refusing) {
        if (lf != r->failed) {
            fuzz_fail("fail-closed", "step %u: mem_last_fault went from %s to %s", r->step, mem_fault_name(r->failed),
                      mem_fault_name(lf));
        }
        if (expects_call && calls == 0u) {
            fuzz_fail("fail-closed", "step %u: %s on a failed heap was refused without a report", r->step,
                      prog_op_name(op->kind));
        }
        if (calls != 0u && f->last != lf) {
            fuzz_fail("fail-closed", "step %u: a failed heap (%s) reported %s", r->step, mem_fault_name(lf),
                      mem_fault_name(f->last));
        }
        return;
    }
    if (calls != 0u && is_corruption_code(f->last) && lf == MEM_FAULT_NONE) {
        fuzz_fail("fail-closed", "step %u: %s was reported but the heap did not fail", r->step, mem_fault_name(f->last));
    }
    /* Paranoid, checking every call: a call that enters the heap runs the
     * full check first, and that reads every byte of free poison. (mem_parse,
     * mem_alloc and calls on a live block enter it whatever they are asked.) */
    bool enters = op->kind == OP_PARSE || ((op->kind == OP_ALLOC || op->kind == OP_CALLOC || op->kind == OP_FREE ||
                                            op->kind == OP_REALLOC) && expects_call);
    if (MEM_HARDENING > 1 && r->check_every == 1u && r->poison_before && enters && calls == 0u) {
        fuzz_fail("periodic-check", "step %u: %s on a heap checked every call, with a changed byte of free poison, "
                  "reported nothing", r->step, prog_op_name(op->kind));
    }
    if (calls == 0u && lf != MEM_FAULT_NONE) {
        fuzz_fail("silent-refusal", "step %u: %s failed the heap (%s) without reporting it", r->step,
                  prog_op_name(op->kind), mem_fault_name(lf));
    }
    if (predictable(r) && calls != 0u && op->kind != OP_FREE_AT) {
        fuzz_fail("false-fault", "step %u: %s on an intact heap reported %s", r->step, prog_op_name(op->kind),
                  mem_fault_name(f->last));
    }
    if (MEM_HARDENING > 1 && r->check_every == 1u && enters && calls == 0u && lf == MEM_FAULT_NONE) {
        corrupt_check_passed(r, prog_op_name(op->kind)); /* its periodic check, as it entered */
    }
    r->failed = lf;
}

/* The end of a corruption run: every corruption reported, or harmless. */
void corrupt_final(run_t *r)
{
    r->calls_before = r->faults->count;
    bool ok = mem_check(r->ctx);
    unsigned calls = r->faults->count - r->calls_before;
    mem_fault_t lf = mem_last_fault(r->ctx);
    if (r->failed != MEM_FAULT_NONE) {
        if (ok || calls == 0u || lf != r->failed) {
            fuzz_fail("fail-closed", "the final mem_check on a failed heap answered %d after %u reports, state %s", ok,
                      calls, mem_fault_name(lf));
        }
        return;
    }
    if (!ok) {
        if (calls == 0u || !is_corruption_code(lf)) {
            fuzz_fail("unreported", "the final mem_check failed without reporting a corruption fault (%u reports, "
                      "state %s)", calls, mem_fault_name(lf));
        }
        r->failed = lf;
        return;
    }
    if (calls != 0u) {
        fuzz_fail("false-fault", "the final mem_check passed but reported %s", mem_fault_name(r->faults->last));
    }
    corrupt_check_passed(r, "the final mem_check");
}
