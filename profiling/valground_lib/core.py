"""valground's C core (profiling/valground_core/, vg.h): built on first use, loaded with ctypes.

Why C: the Python reader (stream.py) spends about a microsecond per event and
twenty per pytest test however tight its loops, which on a real suite's log
(tens of thousands of short tests) is no faster than the SDK's own tool. The
core reads the same lines with the same rules (model.py) at C speed and gives
the Python side its results, which become the model's Segment objects when a
Python report needs them; it renders the -q report and the JSON document's
segments itself (byte for byte what report_text and report_json write).

Why ctypes, not an extension module: it is the standard library, loads into
any interpreter (this machine's first `python3` is not the system's), and
needs no Python headers. The library is compiled by the C compiler ($CC, else
cc) the first time it is needed, into a cache keyed by the sources' digest
($XDG_CACHE_HOME/hardalloc, else ~/.cache/hardalloc, else the temporary
directory); the Meson build compiles the same files with the project's
warnings as errors, and its tests point VALGROUND_CORE at that build.

VALGROUND_CORE: unset, the cached build; a path, that library; `off`, the
Python reader only. Without a compiler the Python reader does the work (same
reports, slower). The core gives up on any line it does not read the way the
Python reader's fast path does (vg.h): the input is then read again by the
Python reader from its start (a pipe's bytes are spooled to a temporary file
as the core reads them, so that they can be).
"""

import ctypes
import hashlib
import os
import struct
import subprocess
import sys
import tempfile
from array import array

from .model import Analyzer, Segment, site_str
from .parse import STATUS_WORDS
from . import layout

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.path.join(os.path.dirname(HERE), "valground_core")
SOURCES = ("vg_feed.c", "vg_json.c", "vg_lines.c", "vg_model.c", "vg_tables.c", "vg_text.c")
HEADERS = ("vg.h", "vg_internal.h", "vg_out.h")
CFLAGS = ("-std=c11", "-O2", "-shared", "-fPIC")

# vg.h's enums
VG_OK, VG_BAIL, VG_IO_ERROR, VG_NO_MEMORY = range(4)
SEG_FIELDS = 19
(S_INDEX, S_ORDINAL, S_STATUS, S_SUMMARY, S_HAS_HEAP, S_HEAP_BASE, S_HEAP_SIZE, S_HAS_PEAK_HEAP,
 S_PEAK_BASE, S_PEAK_SIZE, S_TOTAL, S_ALLOCATIONS, S_MAX_LIVE, S_FAILED, S_HAS_GAP_PEAK, S_GAP_PEAK,
 S_HAS_GAP_END, S_GAP_END, S_TOUCHED) = range(SEG_FIELDS)
FINDING_FIELDS = 11
SITE_FIELDS = 4
(R_SEGMENTS, R_FINDINGS, R_SITES, R_PEAK_SITES, R_SITE_TEXT, R_SITE_OFFSETS, R_NAMES, R_NAME_OFFSETS,
 R_GLOBALS, R_JSON, R_TEXT) = range(11)
KIND_LISTS = ("leaks", "reinit_warnings", "persistent", "double_frees", "invalid_frees", "allocated_twice")
STATUS = [None] + [w.decode() for w in STATUS_WORDS]

_loaded = {}        # path -> CDLL, or None with the reason in last_problem
last_problem = None  # why the core was not used the last time (str), or None


def _private(path):
    """True when path is ours and no one else can write it: a library
    loaded from a directory another user can write (a shared /tmp) would run
    their code."""
    try:
        st = os.lstat(path)
    except OSError:
        return False
    return st.st_uid == os.getuid() and not st.st_mode & 0o022


def _cache_dir():
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    for d in (os.path.join(base, "hardalloc"),
              os.path.join(tempfile.gettempdir(), "hardalloc-%d" % os.getuid())):
        try:
            os.makedirs(d, mode=0o700, exist_ok=True)
        except OSError:
            continue
        if _private(d) and os.access(d, os.W_OK):
            return d
    return None


def build():
    """The path of the core's library, compiled into the cache when absent;
    None (and last_problem says why) when that cannot be done."""
    global last_problem
    cc = os.environ.get("CC") or "cc"
    digest = hashlib.sha256(" ".join((cc,) + CFLAGS).encode())
    try:
        for name in SOURCES + HEADERS:
            with open(os.path.join(SOURCE_DIR, name), "rb") as f:
                digest.update(name.encode() + b"\0" + f.read())
    except OSError as err:
        last_problem = f"core sources unreadable: {err}"
        return None
    cache = _cache_dir()
    if cache is None:
        last_problem = "no cache directory of the user's own that only they can write"
        return None
    path = os.path.join(cache, "valground-core-%s.so" % digest.hexdigest()[:16])
    if os.path.exists(path):
        if not _private(path):
            last_problem = f"{path} is not the user's own, or others can write it: not loaded"
            return None
        return path
    tmp = "%s.tmp%d" % (path, os.getpid())
    cmd = cc.split() + list(CFLAGS) + ["-o", tmp] + [os.path.join(SOURCE_DIR, s) for s in SOURCES]
    try:
        done = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=120)
    except (OSError, subprocess.TimeoutExpired) as err:
        last_problem = f"cannot run {cc}: {err}"
        return None
    if done.returncode != 0:
        last_problem = f"{cc} failed: {done.stdout.decode(errors='replace').strip()[:300]}"
        try:
            os.unlink(tmp)
        except OSError:
            pass
        return None
    os.replace(tmp, path)   # atomic: two runs building at once both end with a whole file
    return path


def load():
    """The core (a ctypes library), or None: VALGROUND_CORE=off, no
    compiler, or a library that does not load (last_problem says which)."""
    global last_problem
    choice = os.environ.get("VALGROUND_CORE", "")
    if choice == "off":
        last_problem = "VALGROUND_CORE=off"
        return None
    path = choice or build()
    if path is None:
        return None
    if path in _loaded:
        return _loaded[path]
    try:
        lib = ctypes.CDLL(path, use_errno=True)
    except OSError as err:
        last_problem = f"cannot load {path}: {err}"
        _loaded[path] = None
        return None
    vp, u64p = ctypes.c_void_p, ctypes.POINTER(ctypes.c_uint64)
    lib.vg_new.restype, lib.vg_new.argtypes = vp, [ctypes.c_int]
    lib.vg_delete.restype, lib.vg_delete.argtypes = None, [vp]
    lib.vg_feed.restype, lib.vg_feed.argtypes = ctypes.c_int, [vp, ctypes.c_int, ctypes.c_int]
    lib.vg_finish.restype, lib.vg_finish.argtypes = ctypes.c_int, [vp]
    lib.vg_render_json.restype, lib.vg_render_json.argtypes = ctypes.c_int, [vp]
    lib.vg_render_quiet.restype, lib.vg_render_quiet.argtypes = ctypes.c_int, [vp, ctypes.c_int]
    lib.vg_bail_line.restype, lib.vg_bail_line.argtypes = ctypes.c_uint64, [vp]
    lib.vg_bail_reason.restype, lib.vg_bail_reason.argtypes = ctypes.c_char_p, [vp]
    lib.vg_result.restype, lib.vg_result.argtypes = vp, [vp, ctypes.c_int, u64p]
    _loaded[path] = lib
    return lib


class Rewind:
    """Puts the inputs back at their start for the Python reader after the
    core gave up. A regular file is sought back; a pipe was spooled."""

    def __init__(self, stream):
        self.stream = stream
        self.fd = stream.fileno()
        self.spool = None
        self.start = None
        if stream.seekable():
            # where the reader is (its buffer may have read ahead of the fd)
            self.start = stream.tell()
            os.lseek(self.fd, self.start, os.SEEK_SET)
        else:
            self.spool = tempfile.TemporaryFile()

    def spool_fd(self):
        return self.spool.fileno() if self.spool is not None else -1

    def reopen(self):
        """A stream with the input's bytes from its start."""
        if self.spool is None:
            self.stream.seek(self.start)
            return self.stream
        self.spool.seek(0)
        return _Chain(self.spool, self.stream)


class _Chain:
    """The spooled bytes, then what the pipe still holds."""

    def __init__(self, first, rest):
        self.parts = [first, rest]

    def read(self, n=-1):
        while self.parts:
            data = self.parts[0].read(n)
            if data:
                return data
            self.parts.pop(0)
        return b""


def analyze(inputs, lean, json=False, sites=True, quiet=None):
    """The finished Analyzer for inputs, a list of (source name or None,
    binary stream), read by the core. None when the core is not there or
    gave up (last_problem says why): every stream of inputs is then
    replaced by one that reads it again from where it started. Raises
    OSError on a read error.
    json: the core renders the segments of the --json document too (when
    every name and site is ASCII), as the Analyzer's core_json (bytes),
    which report_json writes; sites: the segments' site tables are wanted
    by something else (the full text report): without them and with
    core_json, they are not built. quiet: None, or the -c flag: the core
    renders the -q text report too (ASCII names and sites), as core_text
    (str). The Analyzer's segments are built from the core's results when
    first asked for (the -q report and the JSON the core renders need none)."""
    global last_problem
    lib = load()
    if lib is None:
        return None
    handle = lib.vg_new(1 if lean else 0)
    if not handle:
        last_problem = "out of memory"
        return None
    rewinds = []
    try:
        for source, stream in inputs:
            try:
                rw = Rewind(stream)
            except (AttributeError, OSError, ValueError) as err:   # no fileno(): not a file
                last_problem = f"input is not a file ({err})"
                break
            rewinds.append(rw)
            rc = lib.vg_feed(handle, rw.fd, rw.spool_fd())
            if rc == VG_IO_ERROR:
                err = ctypes.get_errno() or 5
                raise OSError(err, os.strerror(err))
            if rc != VG_OK:
                last_problem = _why(lib, handle, rc, source)
                break
        else:
            rc = lib.vg_finish(handle)
            if rc == VG_OK:
                last_problem = None
                core_json = core_text = None
                if json and not lean:
                    rc = lib.vg_render_json(handle)
                    if rc == VG_NO_MEMORY:
                        raise MemoryError("valground core: out of memory rendering the JSON document")
                    if rc == VG_OK:
                        core_json = _bytes(lib, handle, R_JSON)
                if quiet is not None:
                    rc = lib.vg_render_quiet(handle, 1 if quiet else 0)
                    if rc == VG_NO_MEMORY:
                        raise MemoryError("valground core: out of memory rendering the report")
                    if rc == VG_OK:
                        core_text = _bytes(lib, handle, R_TEXT).decode("ascii")
                a = _analyzer(_Raw(lib, handle), lean, sites or core_json is None)
                a.core_json, a.core_text = core_json, core_text
                return a
            last_problem = _why(lib, handle, rc, None)
        for k, rw in enumerate(rewinds):
            inputs[k] = (inputs[k][0], rw.reopen())
        return None
    finally:
        lib.vg_delete(handle)


def _why(lib, handle, rc, source):
    if rc == VG_NO_MEMORY:
        return "out of memory"
    where = f"{source}:" if source else "line "
    return f"{where}{lib.vg_bail_line(handle)}: {lib.vg_bail_reason(handle).decode()}"


def _bytes(lib, handle, which):
    n = ctypes.c_uint64(0)
    p = lib.vg_result(handle, which, ctypes.byref(n))
    return ctypes.string_at(p, n.value) if p and n.value else b""


def _words(lib, handle, which):
    a = array("Q")
    a.frombytes(_bytes(lib, handle, which))
    return a


def _strings(blob, offsets):
    ends = list(offsets[1:]) + [len(blob)]
    return [blob[s:e] for s, e in zip(offsets, ends)]


def _names(blob, offsets):
    """The test names (str), each decoded as the Python reader decodes it."""
    return [name.decode("utf-8", "replace") for name in _strings(blob, offsets)]


class _Raw:
    """The core's results, copied out of it (it is freed at once)."""

    def __init__(self, lib, handle):
        self.segments = _bytes(lib, handle, R_SEGMENTS)
        self.findings = _bytes(lib, handle, R_FINDINGS)
        self.sites = _bytes(lib, handle, R_SITES)
        self.peak_sites = _bytes(lib, handle, R_PEAK_SITES)
        self.site_bytes = _strings(_bytes(lib, handle, R_SITE_TEXT), _words(lib, handle, R_SITE_OFFSETS))
        self.names = _bytes(lib, handle, R_NAMES)
        self.name_offsets = _words(lib, handle, R_NAME_OFFSETS)
        self.globals = _words(lib, handle, R_GLOBALS)


class CoreAnalyzer(Analyzer):
    """An Analyzer from the core's results: its figures at once, its
    segments built when something first asks for them (a third of the -q
    run on a real suite, for reports the core may have written itself)."""

    _pending = None     # the function that builds the segments

    @property
    def segments(self):
        if self._pending is not None:
            build, self._pending = self._pending, None
            self._segments = build()
        return self._segments

    @segments.setter
    def segments(self, value):
        self._segments = value

    def totals(self):
        return self._core_totals

    def segment_count(self):
        return self._core_segment_count


def _analyzer(raw, lean, sites):
    g = raw.globals
    a = CoreAnalyzer(lean=lean)
    a.collected = g[1] if g[0] else None
    a.tests = g[2]
    a._core_totals = (g[3], g[4], g[5], 0, g[6])  # leaks, bad frees, twice, faults (the core gives up on them), peak
    a._core_segment_count = len(raw.segments) // (8 * SEG_FIELDS)
    a._pending = lambda: _segments(raw, lean, sites)
    a.finished = True
    a.reader = "core"
    return a


def _segments(raw, lean, sites):
    site_bytes = raw.site_bytes
    site_text = [site_str(s) for s in site_bytes]
    names = _names(raw.names, raw.name_offsets)
    segs = []
    append = segs.append
    new = Segment.__new__
    empty = ()
    status_of = STATUS
    # one segment per test, 80,000 on a real suite: the record unpacked at once
    # (indexing it field by field cost a third of this loop)
    for (index, ordinal, status, summary, has_heap, heap_base, heap_size, has_peak, peak_base, peak_size,
         total, allocations, max_live, failed, has_gap_peak, gap_peak, has_gap_end, gap_end, touched), name \
            in zip(struct.iter_unpack("=%dQ" % SEG_FIELDS, raw.segments), names):
        s = new(Segment)
        s.index = index
        s.ordinal = ordinal or None
        s.name = name
        s.status = status_of[status]
        if has_heap:
            s.heap_base = heap_base
            s.heap_size = heap_size
        else:
            s.heap_base = s.heap_size = None
        s.peak_heap = (peak_base, peak_size) if has_peak else (None, None)
        s.total_allocated = total
        s.allocations = allocations
        s.max_live = max_live
        s.failed_allocations = failed
        s.gap_at_peak = gap_peak if has_gap_peak else None
        s.gap_at_end = gap_end if has_gap_end else None
        s.touched = touched == 1
        s.summary = summary == 1
        s.peak_event = s.start_event = s.end_event = 0
        # read-only from here on: the empty lists are one shared tuple
        s.leaks = s.reinit_warnings = s.double_frees = s.invalid_frees = s.persistent = empty
        s.overlaps = s.outside_heap = s.allocated_twice = s.faults = s.peak_sites = empty
        s.sites = {}
        s.series = None
        append(s)
    for f in struct.iter_unpack("=%dQ" % FINDING_FIELDS, raw.findings):
        seg, kind, ptr = segs[f[0]], f[1], f[2]
        entry = {"ptr": ptr}
        if kind < 3 or kind == 5:
            entry["size"] = f[3]
        entry["site"] = site_text[f[4]]
        entry["line"] = f[5]
        entry["addr"] = f"0x{ptr:x}"
        entry["offset"] = f[7] if f[6] else None
        if kind == 5:
            entry["first_size"] = f[8]
            entry["first_site"] = site_text[f[9]]
            entry["first_line"] = f[10]
            entry["first_addr"] = entry["addr"]
        name = KIND_LISTS[kind]
        lst = getattr(seg, name)
        if lst is empty:
            lst = []
            setattr(seg, name, lst)
        lst.append(entry)
    if not lean and sites:
        for seg, site, count, size in struct.iter_unpack("=4Q", raw.sites):
            segs[seg].sites[site_bytes[site]] = [count, size]
        peak = {}
        for seg, site, count, size in struct.iter_unpack("=4Q", raw.peak_sites):
            peak.setdefault(seg, []).append({"site": site_text[site], "count": count, "bytes": size})
        for seg, rows in peak.items():
            if len(rows) > 1:
                rows.sort(key=layout._order)
            segs[seg].peak_sites = rows[:10]
    return segs
