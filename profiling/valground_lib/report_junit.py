"""The --junit XML: one test case per segment, a failure for leaks, bad frees and faults."""

import re
import xml.etree.ElementTree as ET

from .report_text import fault_text

# Characters XML 1.0 forbids, which ElementTree writes as they are (an
# unparseable file): a test name or site from a corrupted log may hold them.
NOT_XML_RE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _xml(text):
    return NOT_XML_RE.sub("\ufffd", text)


def _failure_text(seg):
    lines = []
    for l in seg.leaks:
        lines.append(f"leak: {l['size']} bytes at 0x{l['ptr']:x} allocated at {l['site']} (log line {l['line']})")
    for f in seg.double_frees:
        lines.append(f"double free: 0x{f['ptr']:x} at {f['site']} (log line {f['line']})")
    for f in seg.invalid_frees:
        lines.append(f"invalid free: 0x{f['ptr']:x} at {f['site']} (log line {f['line']})")
    for f in seg.faults:
        lines.append("fault: " + fault_text(f, lambda e: e.get("addr") or f"0x{e['ptr']:x}"))
    for t in seg.allocated_twice:
        lines.append(f"allocated twice: {t['size']} bytes at 0x{t['ptr']:x} allocated at {t['site']} "
                     f"(log line {t['line']}) while live since {t['first_site']} (log line {t['first_line']})")
    return _xml("\n".join(lines))


def tree(analyzer):
    failures = sum(1 for s in analyzer.segments if s.failed)
    suite = ET.Element("testsuite", name="valground", tests=str(len(analyzer.segments)),
                       failures=str(failures), errors="0", skipped="0")
    for seg in analyzer.segments:
        case = ET.SubElement(suite, "testcase", classname="valground", name=_xml(seg.name))
        if seg.failed:
            msg = f"{len(seg.leaks)} leak(s), {seg.bad_frees} bad free(s), {len(seg.faults)} fault(s)"
            if seg.allocated_twice:
                msg += f", {len(seg.allocated_twice)} allocated twice"
            fail = ET.SubElement(case, "failure", message=msg, type="memory")
            fail.text = _failure_text(seg)
        out = ET.SubElement(case, "system-out")
        out.text = (f"total_allocated={seg.total_allocated} max_live={seg.max_live} "
                    f"allocations={seg.allocations} heap_size={seg.heap_size}")
    suites = ET.Element("testsuites")
    suites.append(suite)
    return ET.ElementTree(suites)


def write(analyzer, path):
    tree(analyzer).write(path, encoding="utf-8", xml_declaration=True)
