"""Line formats: the `==MP` events, the `==MP!` fault lines (profiling/FORMAT.md)
and pytest's lines.

stream.py parses the common alloc and free with one regex of its own; this
module is the reference (every other event, and the message that names what
is wrong with a malformed line).
"""

import re

MARK = b"==MP "
# Fault lines have a marker of their own, which the SDK's valground.py (it
# reads `==MP ` lines and stops at an event it does not know) passes over.
FAULT_MARK = b"==MP! "
# What the wrappers knew about the fault's address (FORMAT.md, `<known>`).
FAULT_KNOWN = ("live", "freed", "table-full", "unknown")
SITE_ROLES = ("alloc", "free")

# pytest: `collected 5 items`, `path/test_x.py::test_name[param] PASSED [ 20%]`
# (the status is there with -v and no -s; with -s it comes on a later line,
# alone, possibly after the test's own output).
COLLECTED_RE = re.compile(rb"\bcollected (\d+) items?\b")
# The one list of status words (scan.py finds status lines with it too).
STATUS_WORDS = (b"PASSED", b"FAILED", b"ERROR", b"SKIPPED", b"XFAIL", b"XPASS")
STATUS_ALTERNATIVES = b"|".join(STATUS_WORDS)
TEST_RE = re.compile(rb"^(\S+?\.py)::(\S+)(?:\s+(%s)\b)?" % STATUS_ALTERNATIVES)
STATUS_RE = re.compile(rb"^(%s)(?:\s*\[\s*\d+%%\])?\s*$" % STATUS_ALTERNATIVES)


class ParseError(ValueError):
    """A `==MP` line that is not one of the four forms."""


def split_event(line):
    """(text before `==MP `, text after it without the line end) for a raw
    line (bytes), or None when it holds no event. Only the first marker
    counts: whatever follows it is the event's text."""
    i = line.find(MARK)
    if i < 0:
        return None
    return line[:i], line[i + len(MARK):].rstrip(b"\r\n")


# A size or address wider than a 64-bit size_t cannot come from a writer
# (and would break record.END_SENTINEL's guarantee): a bad number.
NUMBER_LIMIT = 1 << 64
HEX_DIGITS_RE = re.compile(rb"[0-9a-fA-F]+\Z")

# What the SDK's valground.py reads that no writer of FORMAT.md writes (it
# splits at `;` and reads numbers with Python's int(x, 0)): a number in
# another base or spelling, fields after the last one, a site without its
# line. valground reads those events as it does, so that its verdicts are
# the same, and warns about each (the `notes` of parse_event).


def _lax(field, what, notes):
    """field read as the SDK's tool reads a number (int(x, 0)), with a note;
    ParseError when it cannot, or when the value cannot be a size or an
    address (negative, wider than 64 bits)."""
    try:
        value = int(field, 0)
    except ValueError:
        raise ParseError(f"{what} is not a number: {field[:40]!r}") from None
    if value < 0:
        raise ParseError(f"{what} is negative: {field[:40]!r}")
    if value >= NUMBER_LIMIT:
        raise ParseError(f"{what} is wider than 64 bits: {field[:40]!r}")
    if notes is not None:
        notes.append(f"{what} {field[:40]!r} read as {value}, as the SDK's tool reads it")
    return value


def _hex(field, what, notes=None):
    # int(x, 16) alone would take a sign, blanks and underscores (`0x-10`, `0x 1_0`)
    if not field.startswith(b"0x") or not HEX_DIGITS_RE.match(field, 2):
        if notes is None:
            raise ParseError(f"{what} is not a 0x<hex> address: {field[:40]!r}")
        return _lax(field, what, notes)
    value = int(field[2:], 16)
    if value >= NUMBER_LIMIT:
        raise ParseError(f"{what} is wider than 64 bits: {field[:40]!r}")
    return value


def _dec(field, what, notes=None):
    if not field.isdigit():
        if notes is None:
            raise ParseError(f"{what} is not a decimal number: {field[:40]!r}")
        return _lax(field, what, notes)
    value = int(field)
    if value >= NUMBER_LIMIT:
        raise ParseError(f"{what} is wider than 64 bits: {field[:40]!r}")
    return value


def _is_site(field):
    file, sep, line = field.rpartition(b":")
    return bool(sep) and line.isdigit()


def _site(field, notes=None):
    """The site: `<file>:<line>` to the end of the line; with notes, what
    the SDK's tool reads otherwise (the field up to the next `;`, whatever
    it holds), with a note."""
    if _is_site(field):
        return field
    if notes is None:
        raise ParseError(f"site is not <file>:<line>: {field[:60]!r}")
    site, sep, extra = field.partition(b";")
    if sep:
        notes.append(f"fields after the site ignored: {extra[:40]!r}")
    if not _is_site(site):
        notes.append(f"site is not <file>:<line>: {site[:60]!r}")
    return site


def _spelled(event, field, spelling):
    """event, plus the pointer's text when asked and the log did not write
    it as 0x<lowercase hex without leading zeros> (the report prints
    addresses as logged)."""
    if spelling and field != b"0x%x" % event[-2 if event[0] == "free" else -2]:
        return event + (field,)
    return event


def split_two(payload):
    """(first event's text, text between the two, rest) for a payload that
    holds a second `==MP ` marker: the first event ends at its last field
    (the site's `:<line>`, or an init's size)."""
    i = payload.find(MARK)
    first, rest = payload[:i], payload[i + len(MARK):]
    m = TWO_RE.match(first)
    if m is None:
        return first, b"", rest
    return m.group(1), m.group(2).strip(), rest


TWO_RE = re.compile(rb"(init;[^;]*;[0-9]+|.*:[0-9]+)(?![0-9])(.*)\Z", re.S)


def parse_event(payload, spelling=False, notes=None):
    """Parses the text after `==MP ` (bytes). Returns one of
    ('init', base, size), ('alloc'|'persist', size, ptr, site), ('free', ptr, site)
    with site as bytes; raises ParseError naming the problem.
    With spelling, an alloc, persist or free whose pointer is not written
    0x<lowercase hex, no leading zero> has that text (bytes) appended.
    notes: None to read only FORMAT.md's forms; a list to read also what
    the SDK's tool reads (numbers in any base int(x, 0) takes, fields after
    the last, a site without its line), each such spelling noted there."""
    payload = payload.rstrip()
    kind, sep, rest = payload.partition(b";")
    if kind == b"init":
        fields = rest.split(b";")
        if len(fields) < 2 or (len(fields) > 2 and notes is None):
            raise ParseError("init needs 2 fields (0x<heap>;<size>), got %d" % len(fields))
        if len(fields) > 2:
            notes.append(f"fields after the heap size ignored: {b';'.join(fields[2:])[:40]!r}")
        return ("init", _hex(fields[0], "heap", notes), _dec(fields[1], "heap size", notes))
    if kind in (b"alloc", b"persist"):
        fields = rest.split(b";", 2)
        if len(fields) != 3:
            raise ParseError("%s needs 3 fields (<size>;0x<ptr>;<file>:<line>), got %d"
                             % (kind.decode(), len(fields)))
        return _spelled((kind.decode(), _dec(fields[0], "size", notes), _hex(fields[1], "pointer", notes),
                         _site(fields[2], notes)), fields[1], spelling)
    if kind == b"free":
        fields = rest.split(b";", 1)
        if len(fields) != 2:
            raise ParseError("free needs 2 fields (0x<ptr>;<file>:<line>), got %d" % len(fields))
        return _spelled(("free", _hex(fields[0], "pointer", notes), _site(fields[1], notes)), fields[0],
                        spelling)
    raise ParseError(f"unknown event {kind[:30].decode('ascii', 'replace')!r}")


def split_fault(line):
    """(text before `==MP! `, text after it without the line end) for a raw
    line (bytes) whose first marker is the fault marker, else None."""
    i = line.find(FAULT_MARK)
    if i < 0:
        return None
    j = line.find(MARK, 0, i)
    if j >= 0:
        return None
    return line[:i], line[i + len(FAULT_MARK):].rstrip(b"\r\n")


def parse_fault(payload):
    """Parses the text after `==MP! ` (bytes). Returns
    ('fault', code, addr, known, name) or ('site', role, addr, site) with
    known and role as str, name as str and site as bytes `file:line`;
    raises ParseError naming the problem."""
    kind, sep, rest = payload.partition(b";")
    if kind == b"fault":
        fields = rest.split(b";", 3)
        if len(fields) != 4:
            raise ParseError("fault needs 4 fields (<code>;0x<addr>;<known>;<name>), got %d" % len(fields))
        known = fields[2].decode("ascii", "replace")
        if known not in FAULT_KNOWN:
            raise ParseError(f"fault: unknown <known> {fields[2][:30]!r} (one of {', '.join(FAULT_KNOWN)})")
        return ("fault", _dec(fields[0], "fault code"), _hex(fields[1], "fault address"), known,
                fields[3].decode("utf-8", "replace"))
    if kind == b"site":
        fields = rest.split(b";", 2)
        if len(fields) != 3:
            raise ParseError("site needs 3 fields (alloc|free;0x<addr>;<file>:<line>), got %d" % len(fields))
        role = fields[0].decode("ascii", "replace")
        if role not in SITE_ROLES:
            raise ParseError(f"site: role is not alloc or free: {fields[0][:30]!r}")
        return ("site", role, _hex(fields[1], "site address"), _site(fields[2]))
    raise ParseError(f"unknown fault line {kind[:30].decode('ascii', 'replace')!r}")


def parse_test_line(line):
    """(name, status or None) for a line that starts a test (bytes, the text
    before any `==MP` marker), else None. A test line is what the SDK's
    valground.py takes for one (it holds `test_`, `::` and `[`; a line
    starting with `collected` never is), plus a line that starts with a
    pytest node id (`path.py::name`, a test without parameters under -v -s).
    The name is the node id without its file: `test_x` or `TestC::test_x[p]`."""
    line = line.rstrip()
    if line.startswith(b"collecting"):
        line = line.replace(b"collecting ... ", b"")
    if line.startswith(b"collected"):
        return None
    m = TEST_RE.match(line)
    if m is not None:
        status = m.group(3).decode() if m.group(3) else None
        return m.group(2).decode("utf-8", "replace"), status
    if b"test_" not in line or b"::" not in line or b"[" not in line:
        return None
    words = line.split()
    k = next((i for i, w in enumerate(words) if b"::" in w), 0)
    token = words[k] if words else b""
    if b".py::" in token:
        token = token.split(b".py::", 1)[1]
    # the status after the node id (-v), or before it (pytest's summary)
    status = None
    for w in words[k + 1:k + 2] + words[:min(k, 1)]:
        if w in STATUS_WORDS:
            status = w.decode()
            break
    return token.decode("utf-8", "replace"), status


def is_summary_line(line):
    """pytest's short summary (`FAILED path::name[p] - why`): a test line
    for the SDK's rule, which valground follows, but no test that runs."""
    return line.startswith(STATUS_WORDS) and line[:8].split(b" ", 1)[0] in STATUS_WORDS


def parse_status_line(line):
    """The status on a line that holds only a pytest status, else None."""
    m = STATUS_RE.match(line.rstrip(b"\r\n"))
    return m.group(1).decode() if m else None


def parse_collected(line):
    m = COLLECTED_RE.search(line)
    return int(m.group(1)) if m else None
