"""valground: the memory-profiling log analyzer (profiling/FORMAT.md).

Modules, one responsibility each:
  parse        the line formats: `==MP` events and pytest's progress lines
  model        the state and the reference meaning of every event: segments, live blocks, findings
  stream       reading in blocks: pytest lines found, events parsed by one regex, the fast path
  layout       heap occupancy from addresses and sizes (free gaps, site groups)
  report_text  the text report (the SDK valground.py's format, extended)
  report_json  the --json document
  report_junit the --junit XML
  plot         the --plot image (python3-matplotlib, imported lazily)
  cli          the command line
Python 3 standard library only (except plot's optional matplotlib).
"""

VERSION = 1
