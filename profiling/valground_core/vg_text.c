/* valground -q's text report, as profiling/valground_lib/report_text.py's
 * render(quiet=True) writes it for what the core reads (no faults, overlaps,
 * blocks outside the heap or warnings: the core gives up on those), byte for
 * byte (tests/analyzer/test_core.py compares the two, with and without
 * colors). ASCII names and sites only, as vg_json.c. */
#include "vg_out.h"

#define BOLD "\033[1m"
#define RED "\033[31m"
#define GREEN "\033[32m"
#define RESET "\033[0m"

typedef struct {
    writer w;
    int colors;
    uint64_t collected_or_tests;    /* analyzer.collected or analyzer.tests */
} text;

/* report_text.Painter: code, then the text, then RESET */
static void paint(text *t, const char *code)
{
    if (t->colors)
        put_cstr(&t->w, code);
}

static void unpaint(text *t)
{
    if (t->colors)
        puts_(&t->w, RESET);
}

static void put_plural(writer *w, uint64_t n, const char *word)
{
    put_u64(w, n);
    put(w, " ", 1);
    put_cstr(w, word);
    if (n != 1)
        put(w, "s", 1);
}

/* report_text.addr: the address as logged, its heap offset when known */
static void put_addr(writer *w, const uint64_t *f)
{
    put_hex(w, f[VG_F_PTR]);
    if (f[VG_F_HAS_OFFSET]) {
        puts_(w, " (heap+");
        put_hex(w, f[VG_F_OFFSET]);
        put(w, ")", 1);
    }
}

static void put_site_text(writer *w, uint64_t id)
{
    size_t n;
    const char *s = site_of(w->a, id, &n);
    put(w, s, n);
}

static void header(text *t, size_t i)
{
    writer *w = &t->w;
    vg *a = w->a;
    const uint64_t *s = VG_SEG(a, i);
    paint(t, BOLD);
    put(w, "[", 1);
    size_t n;
    const char *name = name_of(a, i, &n);
    if (s[VG_SEG_ORDINAL] == 0 && a->tests == 0) {
        put_u64(w, s[VG_SEG_INDEX]);
        put(w, "/", 1);
        put_u64(w, a->segs.len);
        puts_(w, "] - ");
        put(w, name, n);
    } else if (s[VG_SEG_ORDINAL] == 0) {
        puts_(w, "0/");
        put_u64(w, t->collected_or_tests);
        puts_(w, "] - (before the first test)");
    } else {
        put_u64(w, s[VG_SEG_ORDINAL]);
        put(w, "/", 1);
        put_u64(w, t->collected_or_tests);
        puts_(w, "] - ");
        put(w, name, n);
    }
    if (s[VG_SEG_STATUS]) {
        put(w, " ", 1);
        put_cstr(w, STATUS_WORD[s[VG_SEG_STATUS] - 1]);
    }
    unpaint(t);
}

static void summary(text *t, const uint64_t *s)
{
    writer *w = &t->w;
    puts_(w, "\n=== Summary ===\nTotal overtime = ");
    put_u64(w, s[VG_SEG_TOTAL]);
    puts_(w, " bytes\nMax overtime = ");
    put_u64(w, s[VG_SEG_MAX_LIVE]);
    puts_(w, " bytes");
    uint64_t base = percent_base(s);
    if (base) {
        char buf[64];
        int k = snprintf(buf, sizeof buf, " (%.2f%% full)", 100.0 * (double)s[VG_SEG_MAX_LIVE] / (double)base);
        put(w, buf, (size_t)k);
    }
    puts_(w, "\nAllocations = ");
    put_u64(w, s[VG_SEG_ALLOCATIONS]);
}

static void congrats(text *t)
{
    paint(t, GREEN);
    puts_(&t->w, "No memory leak detected, congrats!");
    unpaint(t);
}

/* a finding's line: RED, what it says, RESET, newline */
static void finding_line(text *t, const uint64_t *f)
{
    writer *w = &t->w;
    put(w, "\n", 1);
    paint(t, RED);
    switch (f[VG_F_KIND]) {
    case VG_KIND_LEAK:
        puts_(w, "LEAK: ");
        put_u64(w, f[VG_F_SIZE]);
        puts_(w, " bytes at ");
        put_addr(w, f);
        puts_(w, " allocated at ");
        put_site_text(w, f[VG_F_SITE]);
        break;
    case VG_KIND_DOUBLE_FREE:
        puts_(w, "DOUBLE FREE: ");
        put_addr(w, f);
        puts_(w, " at ");
        put_site_text(w, f[VG_F_SITE]);
        break;
    case VG_KIND_INVALID_FREE:
        puts_(w, "INVALID FREE: ");
        put_addr(w, f);
        puts_(w, " (never allocated) at ");
        put_site_text(w, f[VG_F_SITE]);
        break;
    default:    /* VG_KIND_TWICE */
        puts_(w, "ALLOCATED TWICE: ");
        put_u64(w, f[VG_F_SIZE]);
        puts_(w, " bytes at ");
        put_addr(w, f);
        puts_(w, " allocated at ");
        put_site_text(w, f[VG_F_SITE]);
        puts_(w, " (log line ");
        put_u64(w, f[VG_F_LINE]);
        puts_(w, ") while live since ");
        put_site_text(w, f[VG_F_FIRST_SITE]);
        puts_(w, " (");
        put_u64(w, f[VG_F_FIRST_SIZE]);
        puts_(w, " bytes, log line ");
        put_u64(w, f[VG_F_FIRST_LINE]);
        puts_(w, "), without a free: the allocator handed out a live block, or a free line was lost");
        unpaint(t);
        return;
    }
    puts_(w, " (log line ");
    put_u64(w, f[VG_F_LINE]);
    put(w, ")", 1);
    unpaint(t);
}

/* report_text.segment_lines(quiet=True), for a segment with findings */
static int segment_lines(text *t, size_t i, const size_t *idx, size_t nf)
{
    writer *w = &t->w;
    vg *a = w->a;
    const uint64_t *s = VG_SEG(a, i);
    uint64_t count[6] = {0};
    header(t, i);
    static const int order[] = {VG_KIND_LEAK, VG_KIND_DOUBLE_FREE, VG_KIND_INVALID_FREE, VG_KIND_TWICE};
    for (size_t k = 0; k < sizeof order / sizeof order[0]; k++) {
        for (size_t j = 0; j < nf; j++) {
            const uint64_t *f = &VG_AT(&a->findings, uint64_t, idx[j] * VG_FINDING_FIELDS);
            if (f[VG_F_KIND] != (uint64_t)order[k])
                continue;
            count[order[k]]++;
            finding_line(t, f);
        }
    }
    summary(t, s);
    if (s[VG_SEG_FAILED]) {
        puts_(w, "\nFailed allocations (logged at 0x0) = ");
        put_u64(w, s[VG_SEG_FAILED]);
    }
    put(w, "\n", 1);
    if (count[VG_KIND_LEAK]) {
        size_t n;
        row *r = leak_rows(a, idx, nf, &n);
        if (r == NULL)
            return 0;
        uint64_t bytes = 0;
        for (size_t j = 0; j < n; j++) {
            if (bytes > UINT64_MAX - r[j].bytes) {
                free(r);
                return -1;      /* a sum Python's ints hold and these do not: Python writes it */
            }
            bytes += r[j].bytes;
        }
        paint(t, RED);
        puts_(w, "Memory leak detected: ");
        put_plural(w, count[VG_KIND_LEAK], "block");
        puts_(w, ", ");
        put_u64(w, bytes);
        puts_(w, " bytes");
        unpaint(t);
        if (n > 1)
            qsort(r, n, sizeof *r, by_order);
        for (size_t j = 0; j < n && j < 1000; j++) {
            put(w, "\n", 1);
            paint(t, RED);
            puts_(w, "    ");
            put(w, r[j].text, r[j].len);
            puts_(w, ": ");
            put_plural(w, r[j].count, "block");
            puts_(w, ", ");
            put_u64(w, r[j].bytes);
            puts_(w, " bytes");
            unpaint(t);
        }
        free(r);
    } else {
        congrats(t);
    }
    if (count[VG_KIND_DOUBLE_FREE] || count[VG_KIND_INVALID_FREE]) {
        put(w, "\n", 1);
        paint(t, RED);
        puts_(w, "Bad frees: ");
        put_u64(w, count[VG_KIND_DOUBLE_FREE]);
        puts_(w, " double, ");
        put_u64(w, count[VG_KIND_INVALID_FREE]);
        puts_(w, " invalid");
        unpaint(t);
    }
    if (count[VG_KIND_TWICE]) {
        put(w, "\n", 1);
        paint(t, RED);
        puts_(w, "Allocated twice: ");
        put_plural(w, count[VG_KIND_TWICE], "block");
        unpaint(t);
    }
    /* segment_lines' lines, then render's "" */
    puts_(w, "\n\n");
    return 1;
}

static void global_line(text *t, const char *what, uint64_t n)
{
    put(&t->w, "\n", 1);
    paint(t, n ? RED : GREEN);
    put_cstr(&t->w, what);
    put_u64(&t->w, n);
    unpaint(t);
}

int vg_render_quiet(vg *a, int colors)
{
    if (a->bailed || a->oom)
        return a->oom ? VG_NO_MEMORY : VG_BAIL;
    if (!a->finished)
        return VG_BAIL;
    if (!ascii(a->names.data, a->names.len) || !ascii(a->sites.blob.data, a->sites.blob.len))
        return VG_BAIL;
    size_t *start, *idx;
    if (!findings_by_segment(a, &start, &idx))
        return vg_oom(a), VG_NO_MEMORY;
    a->text.len = 0;
    text t = {{a, &a->text, 1, NULL, NULL}, colors != 0, a->has_collected && a->collected ? a->collected : a->tests};
    int rc = VG_OK;
    for (size_t i = 0; i < a->segs.len && t.w.ok; i++) {
        const uint64_t *s = VG_SEG(a, i);
        size_t nf = start[i + 1] - start[i];
        /* persistent and reclaimed blocks are not printed by -q: without a
         * leak, bad free or block allocated twice it is render's common case */
        size_t shown = 0;
        for (size_t j = 0; j < nf; j++) {
            uint64_t kind = VG_AT(&a->findings, uint64_t, idx[start[i] + j] * VG_FINDING_FIELDS + VG_F_KIND);
            shown += kind != VG_KIND_PERSISTENT && kind != VG_KIND_REINIT;
        }
        if (shown == 0 && s[VG_SEG_FAILED] == 0) {
            header(&t, i);
            summary(&t, s);
            put(&t.w, "\n", 1);
            congrats(&t);
            puts_(&t.w, "\n\n");
            continue;
        }
        int r = segment_lines(&t, i, idx + start[i], nf);
        if (r <= 0) {
            rc = r < 0 ? VG_BAIL : VG_NO_MEMORY;
            break;
        }
    }
    free(start);
    free(idx);
    if (rc != VG_OK)
        return rc == VG_NO_MEMORY ? (vg_oom(a), VG_NO_MEMORY) : VG_BAIL;
    paint(&t, BOLD);
    puts_(&t.w, "=== Global ===");
    unpaint(&t);
    uint64_t totals[4];
    vg_totals(a, totals);
    puts_(&t.w, "\nHigher Max overtime = ");
    put_u64(&t.w, totals[3]);
    puts_(&t.w, " bytes\nSegments = ");
    put_u64(&t.w, a->segs.len);
    global_line(&t, "Leaks = ", totals[0]);
    global_line(&t, "Bad frees = ", totals[1]);
    if (totals[2]) {
        put(&t.w, "\n", 1);
        paint(&t, RED);
        puts_(&t.w, "Allocated twice = ");
        put_u64(&t.w, totals[2]);
        unpaint(&t);
    }
    global_line(&t, "Faults = ", 0);
    put(&t.w, "\n", 1);
    if (!t.w.ok)
        return vg_oom(a), VG_NO_MEMORY;
    return VG_OK;
}
