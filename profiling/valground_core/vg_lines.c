/* What a line is: the forms of profiling/valground_lib/parse.py and of the
 * fast path's regexes in stream.py, byte for byte; a form the core does not
 * read is "not one" (vg_parse_event) or "beyond the core" (-1), never a guess. */
#include <string.h>

#include "vg_internal.h"

/* Python's bytes whitespace (\s in a bytes regex, bytes.split(), rstrip()) */
static int is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/* \w in a bytes regex */
static int is_word(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static int is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

/* one more than the value of a lower-case hex digit, 0 for any other byte
 * (a table: this is read for every digit of every address, a tenth of the
 * core's instructions as a chain of compares) */
static const unsigned char HEX1[256] = {
    ['0'] = 1, ['1'] = 2, ['2'] = 3, ['3'] = 4, ['4'] = 5, ['5'] = 6, ['6'] = 7, ['7'] = 8,
    ['8'] = 9, ['9'] = 10, ['a'] = 11, ['b'] = 12, ['c'] = 13, ['d'] = 14, ['e'] = 15, ['f'] = 16,
};

static int hex_value(unsigned char c)
{
    return HEX1[c] - 1;
}

static int starts(const char *p, const char *end, const char *word)
{
    size_t n = strlen(word);
    return (size_t)(end - p) >= n && memcmp(p, word, n) == 0;
}

/* [1-9][0-9]{0,18} (first_zero: [0-9]{1,19}) then `stop`; *p moves past stop */
static int decimal(const char **p, const char *end, char stop, int first_zero, uint64_t *out)
{
    const char *q = *p;
    uint64_t v = 0;
    int n = 0;
    if (q >= end || !is_digit((unsigned char)*q) || (!first_zero && *q == '0'))
        return 0;
    while (q < end && is_digit((unsigned char)*q)) {
        if (++n > 19)
            return 0;
        v = v * 10 + (uint64_t)(*q - '0');
        q++;
    }
    if (stop) {
        if (q >= end || *q != stop)
            return 0;
        q++;
    }
    *p = q;
    *out = v;
    return 1;
}

/* 0x then lower-case hex: [1-9a-f][0-9a-f]{0,15} (any_zero: [0-9a-f]{1,16}); then `stop` */
static int hexnum(const char **p, const char *end, char stop, int any_zero, uint64_t *out)
{
    const char *q = *p;
    uint64_t v = 0;
    int n = 0;
    if (end - q < 3 || q[0] != '0' || q[1] != 'x')
        return 0;
    q += 2;
    if (!any_zero && *q == '0')
        return 0;
    while (q < end && hex_value((unsigned char)*q) >= 0) {
        if (++n > 16)
            return 0;
        v = v * 16 + (uint64_t)hex_value((unsigned char)*q);
        q++;
    }
    if (n == 0)
        return 0;
    if (stop) {
        if (q >= end || *q != stop)
            return 0;
        q++;
    }
    *p = q;
    *out = v;
    return 1;
}

/* the rest of the line is a site: `<anything>:<digits>` to the end */
static int site(const char *p, const char *end, vg_event *ev)
{
    const char *q = end;
    while (q > p && is_digit((unsigned char)q[-1]))
        q--;
    if (q == end || q == p || q[-1] != ':')
        return 0;
    ev->site = p;
    ev->site_len = (size_t)(end - p);
    return 1;
}

int vg_parse_event(const char *p, const char *end, vg_event *ev)
{
    int persist = 0;
    if (starts(p, end, "alloc;")) {
        p += 6;
    } else if (starts(p, end, "persist;")) {
        p += 8;
        persist = 1;
    } else if (starts(p, end, "free;")) {
        p += 5;
        ev->kind = VG_EV_FREE;
        return hexnum(&p, end, ';', 0, &ev->ptr) && site(p, end, ev);
    } else if (starts(p, end, "init;")) {
        p += 5;
        ev->kind = VG_EV_INIT;
        /* INIT_RE.fullmatch: init;0x[0-9a-f]{1,16};[0-9]{1,19} */
        return hexnum(&p, end, ';', 1, &ev->ptr) && decimal(&p, end, 0, 1, &ev->size) && p == end;
    } else {
        return 0;
    }
    ev->kind = persist ? VG_EV_PERSIST : VG_EV_ALLOC;
    const char *q = p;
    if (decimal(&q, end, ';', 0, &ev->size) && hexnum(&q, end, ';', 0, &ev->ptr))
        return site(q, end, ev);
    /* an allocation that failed, logged at 0x0 as the wrappers write it:
     * any decimal size (parse.py's _dec), no other spelling of the address */
    q = p;
    if (decimal(&q, end, ';', 1, &ev->size) && end - q >= 4 && memcmp(q, "0x0;", 4) == 0) {
        ev->kind = VG_EV_FAILED;
        ev->ptr = 0;
        return site(q + 4, end, ev);
    }
    return 0;
}

static const char *const STATUS_WORDS[] = {"PASSED", "FAILED", "ERROR", "SKIPPED", "XFAIL", "XPASS"};
enum { N_STATUS = 6 };

int vg_starts_with_status(const char *p, const char *end)
{
    /* most lines start with none of the words' first letters */
    if (p == end || memchr("PFESX", *p, 5) == NULL)
        return 0;
    for (int i = 0; i < N_STATUS; i++)
        if (starts(p, end, STATUS_WORDS[i]))
            return i + 1;
    return 0;
}

/* STATUS_RE on the line without trailing CR and LF:
 * ^(WORD)(?:\s*\[\s*\d+%\])?\s*$ */
int vg_status_line(const char *p, const char *end)
{
    while (end > p && (end[-1] == '\r' || end[-1] == '\n'))
        end--;
    int s = vg_starts_with_status(p, end);
    if (s == 0)
        return 0;
    const char *q = p + strlen(STATUS_WORDS[s - 1]);
    while (q < end && is_space((unsigned char)*q))
        q++;
    if (q == end)
        return s;
    if (*q++ != '[')
        return 0;
    while (q < end && is_space((unsigned char)*q))
        q++;
    if (q == end || !is_digit((unsigned char)*q))
        return 0;
    while (q < end && is_digit((unsigned char)*q))
        q++;
    if (end - q < 2 || q[0] != '%' || q[1] != ']')
        return 0;
    q += 2;
    while (q < end && is_space((unsigned char)*q))
        q++;
    return q == end ? s : 0;
}

static const char *find(const char *p, const char *end, const char *needle)
{
    size_t n = strlen(needle);
    if ((size_t)(end - p) < n)
        return NULL;
    for (const char *q = p; q + n <= end; q++) {
        q = memchr(q, needle[0], (size_t)(end - q));
        if (q == NULL || q + n > end)
            return NULL;
        if (memcmp(q, needle, n) == 0)
            return q;
    }
    return NULL;
}

/* the status word a whole word is, else 0 */
static int status_word(const char *p, const char *end)
{
    for (int i = 0; i < N_STATUS; i++) {
        size_t n = strlen(STATUS_WORDS[i]);
        if ((size_t)(end - p) == n && memcmp(p, STATUS_WORDS[i], n) == 0)
            return i + 1;
    }
    return 0;
}

int vg_parse_test_line(const char *line, const char *line_end, char *scratch, vg_test_line *t)
{
    const char *p = line, *end = line_end;
    while (end > p && is_space((unsigned char)end[-1]))
        end--;
    if (starts(p, end, "collecting")) {
        /* line.replace(b"collecting ... ", b""), into scratch */
        static const char drop[] = "collecting ... ";
        size_t k = 0, n = sizeof drop - 1;
        for (const char *q = p; q < end;) {
            if ((size_t)(end - q) >= n && memcmp(q, drop, n) == 0) {
                q += n;
            } else {
                scratch[k++] = *q++;
            }
        }
        /* the name may point into scratch: the caller copies it at once */
        p = scratch;
        end = scratch + k;
    }
    if (starts(p, end, "collected"))
        return 0;
    int summary = 0;
    if (vg_starts_with_status(line, line_end)) {
        /* is_summary_line: line[:8].split(b" ", 1)[0] is a status word */
        size_t k = 0;
        while (k < 8 && line + k < line_end && line[k] != ' ')
            k++;
        summary = status_word(line, line + k) != 0;
    }
    t->summary = summary;
    /* TEST_RE: ^(\S+?\.py)::(\S+)(?:\s+(STATUS)\b)? */
    const char *tok_end = p;
    while (tok_end < end && !is_space((unsigned char)*tok_end))
        tok_end++;
    for (const char *q = p + 1; q + 5 < tok_end + 1; q++) {
        q = find(q, tok_end, ".py::");
        if (q == NULL)
            break;
        if (q == p)
            continue;
        if (q + 5 >= tok_end)
            break;
        t->name = q + 5;
        t->name_len = (size_t)(tok_end - (q + 5));
        t->status = 0;
        const char *w = tok_end;
        while (w < end && is_space((unsigned char)*w))
            w++;
        if (w > tok_end) {
            for (int i = 0; i < N_STATUS; i++) {
                size_t n = strlen(STATUS_WORDS[i]);
                if ((size_t)(end - w) >= n && memcmp(w, STATUS_WORDS[i], n) == 0
                    && (w + n == end || !is_word((unsigned char)w[n]))) {
                    t->status = i + 1;
                    break;
                }
            }
        }
        return 1;
    }
    /* the SDK's rule: test_, :: and [ */
    if (find(p, end, "test_") == NULL || find(p, end, "::") == NULL || memchr(p, '[', (size_t)(end - p)) == NULL)
        return 0;
    /* words = line.split(); the first holding `::`, after `.py::` when it holds one */
    const char *first = NULL, *first_end = NULL, *word = NULL, *word_end = NULL;
    const char *q = p;
    int k = 0;
    while (q < end) {
        while (q < end && is_space((unsigned char)*q))
            q++;
        if (q == end)
            break;
        const char *e = q;
        while (e < end && !is_space((unsigned char)*e))
            e++;
        if (first == NULL) {
            first = q;
            first_end = e;
        }
        if (find(q, e, "::") != NULL) {
            word = q;
            word_end = e;
            break;
        }
        k++;
        q = e;
    }
    if (word == NULL)
        return 0;     /* cannot be: `::` holds no whitespace */
    const char *name = word;
    const char *py = find(word, word_end, ".py::");
    if (py != NULL)
        name = py + 5;
    t->name = name;
    t->name_len = (size_t)(word_end - name);
    t->status = 0;
    /* the status after the node id (-v), or before it (the summary) */
    const char *n = word_end;
    while (n < end && is_space((unsigned char)*n))
        n++;
    if (n < end) {
        const char *ne = n;
        while (ne < end && !is_space((unsigned char)*ne))
            ne++;
        t->status = status_word(n, ne);
    }
    if (t->status == 0 && k >= 1)
        t->status = status_word(first, first_end);
    return 1;
}

int vg_parse_collected(const char *p, const char *end, uint64_t *out)
{
    /* \bcollected (\d+) items?\b, the first match */
    for (const char *q = p; (q = find(q, end, "collected ")) != NULL; q++) {
        if (q > p && is_word((unsigned char)q[-1]))
            continue;
        const char *d = q + 10, *e = d;
        while (e < end && is_digit((unsigned char)*e))
            e++;
        if (e == d || !starts(e, end, " item"))
            continue;
        const char *w = e + 5;
        if (w < end && *w == 's' && (w + 1 == end || !is_word((unsigned char)w[1])))
            w++;
        else if (w < end && is_word((unsigned char)*w))
            continue;
        if (e - d > 18)
            return -1;
        uint64_t v = 0;
        for (const char *c = d; c < e; c++)
            v = v * 10 + (uint64_t)(*c - '0');
        *out = v;
        return 1;
    }
    return 0;
}
