"""A live block's record, shared by the model (which makes and reads them)
and the stream's fast path (which makes them inline): the tuple's layout and
the address sentinel that ends Analyzer.starts.

Its own module so that model.py (which drives stream.Reader) and stream.py
(which writes these tuples) depend on it, not on each other.
"""

# Above any address: the last element of Analyzer.starts, so the successor
# of any block exists.
END_SENTINEL = 1 << 256

# A live block: (size, site bytes, log line or None, Segment, persistent, ptr, seq)
# and, only when the log spelled the address otherwise than 0x<lowercase hex>
# (leading zeros, upper case: the slow path), that spelling (bytes) last.
SIZE, SITE, LINE, SEG, PERSIST, PTR, SEQ, TEXT = range(8)
