"""The log's bytes: blocks of whole lines, newline counts, status lines.

Each function here replaces a plain standard-library call that is slow on a
log of hundreds of MB with one that gives the same answer from faster C
primitives (memchr, a single buffer); stream.py uses them, and
tests/analyzer/test_scan.py checks each against the plain call.
"""

import re

from .parse import STATUS_ALTERNATIVES, STATUS_WORDS

STATUS_AFTER_NEWLINE = re.compile(rb"\n(?:%s)" % STATUS_ALTERNATIVES)


def blocks(stream, size):
    """The stream's text in pieces of about `size` bytes (longer when a line
    is), each ending with a newline (one is added at the end of a last line
    that lacks it). stream: a binary file object, or an iterable of lines."""
    read = getattr(stream, "read", None)
    if read is None:
        yield from _blocks_of_lines(stream, size)
    else:
        readinto = getattr(stream, "readinto", None) or _readinto_of(read)
        yield from _blocks_by_readinto(readinto, size)


def _blocks_of_lines(lines, size):
    parts, n = [], 0
    for line in lines:
        parts.append(line)
        n += len(line)
        if n >= size and line.endswith(b"\n"):
            yield b"".join(parts)
            parts, n = [], 0
    if parts:
        text = b"".join(parts)
        yield text if text.endswith(b"\n") else text + b"\n"


def _blocks_by_readinto(readinto, size):
    # One buffer, the unfinished last line moved to its front after each
    # block: a block is copied once (to bytes), where read() would copy it
    # twice (the carried line + the chunk, then the slice up to the last
    # newline): 0.1 s of the 2 s bench_speed took, 0.04 s now.
    buf = bytearray(max(size, 2))
    view = memoryview(buf)
    fill = 0
    try:
        while True:
            if len(buf) - fill <= len(buf) // 2:
                # a line longer than half the buffer: room for the rest of it
                view.release()
                buf.extend(bytes(len(buf)))
                view = memoryview(buf)
            got = readinto(view[fill:])
            if not got:
                break
            end = fill + got
            cut = buf.rfind(b"\n", 0, end) + 1
            if cut:
                yield view[:cut].tobytes()
                # source and destination may overlap: the source is a copy
                buf[:end - cut] = view[cut:end].tobytes()
                fill = end - cut
            else:
                fill = end
        if fill:
            yield view[:fill].tobytes() + b"\n"
    finally:
        view.release()


def _readinto_of(read):
    """readinto() for a stream that has only read()."""
    def readinto(view):
        data = read(len(view))
        view[:len(data)] = data
        return len(data)
    return readinto


NEWLINE_PIECE = 1 << 18


def newlines(text, start, end, piece=NEWLINE_PIECE):
    """text.count(b"\\n", start, end), in half the time on long ranges:
    bytes.count compares byte by byte, while replace() finds the newlines
    with memchr, so deleting them from a copy (piece bytes at a time, to
    keep the copies small) and comparing lengths is faster."""
    if end - start < 512:
        return text.count(b"\n", start, end)
    n = 0
    for a in range(start, end, piece):
        chunk = text[a:min(a + piece, end)]
        n += len(chunk) - len(chunk.replace(b"\n", b""))
    return n


class StatusLines:
    """Finds the lines of a text that start with a pytest status word.

    A regex search for a newline followed by a word tries a match at every
    newline. But every status word holds an `E` or an `X`, which printable
    output seldom holds in upper case, and bytes.find of one byte is memchr:
    so only the lines holding one of them are looked at, until too many of
    those turn out not to be status lines (a log that shouts), when the
    regex takes over for the rest of the text."""

    LETTERS = (b"E", b"X")          # every word of STATUS_WORDS holds one
    MAX_MISSES = 256

    def __init__(self, text):
        self.text = text
        # the next occurrence of each letter at or after the last pos asked
        self.letter_at = [-1] * len(self.LETTERS)
        self.misses = 0

    def first(self, pos):
        """The start of the first line at or after pos (a line start) that
        starts with a status word; len(text) if there is none."""
        text = self.text
        n = len(text)
        at = self.letter_at
        while self.misses <= self.MAX_MISSES:
            for i, letter in enumerate(self.LETTERS):
                if at[i] < pos:
                    at[i] = text.find(letter, pos)
                    if at[i] < 0:
                        at[i] = n
            c = min(at)
            if c >= n:
                return n
            start = text.rfind(b"\n", pos, c) + 1 or pos
            if text.startswith(STATUS_WORDS, start):
                return start
            self.misses += 1
            pos = text.find(b"\n", c) + 1
            if pos == 0:
                return n
        if pos == 0 and text.startswith(STATUS_WORDS):
            return 0
        m = STATUS_AFTER_NEWLINE.search(text, pos - 1 if pos else 0)
        return m.start() + 1 if m else n
