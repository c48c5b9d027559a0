#!/usr/bin/env python3
"""Writes tests/analyzer/fixtures/*.log and their .expect.json (run it after changing a fixture here).

Each fixture is a small pytest -v -s style transcript; the expected counts of findings are stated
per fixture below, and allocations / total_allocated / max_live are computed from the segment's
own ==MP lines by stats() (persistent blocks count as live bytes; a test's peak starts at its
own lines, not at what the previous test left live). Standard library only.
"""
import json, os
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
D = os.path.join(HERE, "fixtures")
P = "seproxyhal: printf: "
H = "0xda7a0000;4096"

def header(n):
    return ["============================= test session starts ==============================",
            "platform linux -- Python 3.11.7, pytest-8.3.3, pluggy-1.5.0 -- /usr/bin/python3",
            "cachedir: .pytest_cache", "rootdir: /app", "plugins: ragger-1.24.0",
            "collecting ... collected %d items" % n, ""]

def footer(failed, passed):
    return ["", "=========================== short test summary info ============================",
            "================ %s in 12.34s ================" % ", ".join(
                x for x in (("%d failed" % failed) if failed else "", ("%d passed" % passed) if passed else "") if x)]

def start(name):
    return [name + " ", "INFO     ragger.backend:speculos.py:120 Starting speculos with model nanox",
            "seproxyhal: loading app at 0xc0de0000", "seproxyhal: launcher: app started"]

def end(status, pct):
    return ["seproxyhal: app exited", "%s%s[%3d%%]" % (status, " " * 40, pct)]

def stats(lines):
    """allocations, total_allocated, max_live (persist included) per segment of MP lines in order."""
    live = {}; alloc = tot = mx = cur = 0
    for l in lines:
        if "==MP " not in l: continue
        b = l.split("==MP ", 1)[1]
        f = b.split(";")
        try:
            if f[0] == "init" and len(f) == 3:
                int(f[1], 16); int(f[2]); live = {}; cur = 0
            elif f[0] in ("alloc", "persist") and len(f) >= 4:
                s = int(f[1]); p = int(f[2], 16)
                alloc += 1; tot += s; live[p] = s; cur += s; mx = max(mx, cur)
            elif f[0] == "free" and len(f) >= 3:
                p = int(f[1], 16)
                if p in live: cur -= live.pop(p)
        except ValueError:
            pass
    return {"allocations": alloc, "total_allocated": tot, "max_live": mx}

def write(name, desc, lines, segs, glob, exit_status, exit_strict):
    assert len(lines) < 200, name
    with open(os.path.join(D, name + ".log"), "w", newline="\n") as f:
        f.write("\n".join(lines) + "\n")
    exp = {"description": desc, "segments": segs, "global": glob,
           "exit_status": exit_status, "exit_status_strict": exit_strict}
    with open(os.path.join(D, name + ".log.expect.json"), "w") as f:
        json.dump(exp, f, indent=2); f.write("\n")

def seg(name, body, status=None, **counts):
    d = {"name": name}
    if status: d["status"] = status
    c = {"leaks": 0, "double_frees": 0, "invalid_frees": 0, "persistent": 0, "overlaps": 0,
         "outside_heap": 0, "reinit_warnings": 0, "faults": 0}
    c.update({k: v for k, v in counts.items() if k in c})
    d.update(c)
    st = stats(body)
    for k in ("allocations", "total_allocated", "max_live"):
        d[k] = counts.get(k, st[k])
        if d[k] is None: del d[k]
    for k in ("leak_details", "double_free_details", "invalid_free_details", "fault_details"):
        if k in counts: d[k] = counts[k]
    return d

# 1. clean
t1 = "tests/test_version_cmd.py::test_version[nanox]"
t2 = "tests/test_sign_cmd.py::test_sign_tx_refused[nanox]"
b1 = [P+"==MP init;"+H, P+"[main] app ready",
      "=> e003000000", P+"==MP alloc;64;0xda7a0008;src/apdu/parser.c:211",
      P+"==MP alloc;32;0xda7a0050;src/handler/get_version.c:30",
      P+"[handler] ins=0x03", P+"==MP free;0xda7a0008;src/apdu/parser.c:260",
      P+"==MP alloc;16;0xda7a0008;src/ui/display.c:143", "<= 010203" + "9000",
      P+"==MP free;0xda7a0050;src/handler/get_version.c:44",
      P+"==MP free;0xda7a0008;src/ui/display.c:171"]
b2 = [P+"==MP init;"+H, "=> e00400001505800000", P+"==MP alloc;100;0xda7a0008;src/transaction/tlv.c:37",
      "seproxyhal: screen_update", "seproxyhal: button press both",
      P+"==MP free;0xda7a0008;src/transaction/tlv.c:52", P+"==MP alloc;200;0xda7a0008;src/transaction/tlv.c:52",
      P+"==MP free;0xda7a0008;src/handler/sign_tx.c:190", "<= 6985",
      "E       ragger.error.ExceptionRAPDU: Error [0x6985]"]
L = header(2) + start(t1) + b1 + end("PASSED", 50) + start(t2) + b2 + end("FAILED", 100) + footer(1, 1)
write("clean", "two tests, every block freed (one test FAILED in pytest: not a memory failure); a realloc as free+alloc",
      L, [seg(t1, b1, "PASSED"), seg(t2, b2, "FAILED")],
      {"segments": 2, "leaks": 0, "bad_frees": 0, "malformed_lines": 0, "highest_max_live": 200}, 0, 0)

# 2. leak
t1 = "tests/test_pubkey_cmd.py::test_get_public_key_no_confirm[nanox]"
t2 = "tests/test_sign_message.py::test_sign_message[nanox]"
b1 = [P+"==MP init;"+H, P+"==MP alloc;48;0xda7a0008;src/handler/get_public_key.c:48", "=> e00500000400000000",
      P+"==MP free;0xda7a0008;src/handler/get_public_key.c:70", "<= 04aabb9000"]
b2 = [P+"==MP init;"+H, "=> e00600000568656c6c6f", P+"[handler] sign message len=5",
      P+"==MP alloc;24;0xda7a0008;src/leaky.c:42", P+"==MP alloc;64;0xda7a0028;src/handler/sign_msg.c:61",
      P+"==MP free;0xda7a0028;src/handler/sign_msg.c:80", "<= 3045022100aa9000"]
L = header(2) + start(t1) + b1 + end("PASSED", 50) + start(t2) + b2 + end("PASSED", 100) + footer(0, 2)
write("leak", "the second test leaks one 24-byte block from src/leaky.c:42",
      L, [seg(t1, b1, "PASSED"), seg(t2, b2, "PASSED", leaks=1,
          leak_details=[{"ptr": "0xda7a0008", "size": 24, "site": "src/leaky.c:42"}])],
      {"segments": 2, "leaks": 1, "bad_frees": 0, "malformed_lines": 0}, 1, 1)

# 3. reinit
t1 = "tests/test_app_mainmenu.py::test_app_restart[nanox]"
t2 = "tests/test_sign_cmd.py::test_sign_tx_short_tx[nanox]"
t3 = "tests/test_sign_cmd.py::test_sign_tx_long_tx[nanox]"
b1 = [P+"==MP init;"+H, P+"==MP alloc;100;0xda7a0008;src/app_state.c:57", "seproxyhal: app restarted",
      P+"==MP init;"+H, P+"==MP alloc;50;0xda7a0008;src/app_state.c:57",
      P+"==MP free;0xda7a0008;src/app_state.c:80"]
b2 = [P+"==MP init;"+H, "=> e004000015", P+"==MP alloc;40;0xda7a0008;src/transaction/deserialize.c:102", "<= 9000"]
b3 = [P+"==MP init;"+H, "=> e004000099", P+"==MP alloc;8;0xda7a0008;src/transaction/deserialize.c:155",
      P+"==MP free;0xda7a0008;src/transaction/deserialize.c:170", "<= 9000"]
L = (header(3) + start(t1) + b1 + end("PASSED", 33) + start(t2) + b2 + end("PASSED", 66)
     + start(t3) + b3 + end("PASSED", 100) + footer(0, 3))
write("reinit", "re-init within a test with a live block (warning, not a leak); a block live when the next test inits (leak of the test that made it)",
      L, [seg(t1, b1, "PASSED", reinit_warnings=1), seg(t2, b2, "PASSED", leaks=1,
          leak_details=[{"ptr": "0xda7a0008", "size": 40, "site": "src/transaction/deserialize.c:102"}]),
          seg(t3, b3, "PASSED")],
      {"segments": 3, "leaks": 1, "bad_frees": 0, "malformed_lines": 0}, 1, 1)

# 4. double free
t1 = "tests/test_error_cmd.py::test_invalid_state[nanox]"
t2 = "tests/test_version_cmd.py::test_version[nanox]"
b1 = [P+"==MP init;"+H, P+"==MP alloc;32;0xda7a0008;src/handler/sign_tx.c:133", "=> e004000000",
      P+"==MP free;0xda7a0008;src/handler/sign_tx.c:150", P+"==MP free;0xda7a0008;src/handler/cleanup.c:9", "<= 6a80"]
b2 = [P+"==MP init;"+H, P+"==MP alloc;16;0xda7a0008;src/handler/get_version.c:30",
      P+"==MP free;0xda7a0008;src/handler/get_version.c:44"]
L = header(2) + start(t1) + b1 + end("PASSED", 50) + start(t2) + b2 + end("PASSED", 100) + footer(0, 2)
write("double_free", "a block freed twice in the first test; the second test clean",
      L, [seg(t1, b1, "PASSED", double_frees=1,
              double_free_details=[{"ptr": "0xda7a0008", "site": "src/handler/cleanup.c:9"}]), seg(t2, b2, "PASSED")],
      {"segments": 2, "leaks": 0, "bad_frees": 1, "malformed_lines": 0}, 1, 1)

# 5. invalid free
t1 = "tests/test_plugins.py::test_plugin_unknown[nanox]"
b1 = [P+"==MP init;"+H, P+"==MP alloc;32;0xda7a0008;src/plugin/plugin_call.c:410",
      P+"==MP free;0xda7a0400;src/plugin/plugin_call.c:433",
      P+"==MP free;0xda7a0008;src/plugin/plugin_call.c:440"]
L = header(1) + start(t1) + b1 + end("PASSED", 100) + footer(0, 1)
write("invalid_free", "a free of an address never allocated in the test",
      L, [seg(t1, b1, "PASSED", invalid_frees=1,
              invalid_free_details=[{"ptr": "0xda7a0400", "site": "src/plugin/plugin_call.c:433"}])],
      {"segments": 1, "leaks": 0, "bad_frees": 1, "malformed_lines": 0}, 1, 1)

# 6. persistent
t1 = "tests/test_app_mainmenu.py::test_app_mainmenu[nanox]"
t2 = "tests/test_app_mainmenu.py::test_app_settings[nanox]"
b1 = [P+"==MP init;"+H, P+"==MP persist;512;0xda7a0008;src/main.c:88",
      P+"==MP persist;128;0xda7a0210;src/ui/menu.c:25", P+"==MP alloc;64;0xda7a0298;src/ui/display.c:143",
      "seproxyhal: screen_update", P+"==MP free;0xda7a0298;src/ui/display.c:171"]
b2 = [P+"==MP init;"+H, P+"==MP persist;512;0xda7a0008;src/main.c:88",
      P+"==MP alloc;16;0xda7a0210;src/ui/display.c:143", P+"==MP free;0xda7a0210;src/ui/display.c:171"]
L = header(2) + start(t1) + b1 + end("PASSED", 50) + start(t2) + b2 + end("PASSED", 100) + footer(0, 2)
write("persistent", "persistent buffers, live at the end of each test and at the next init: listed, never leaks",
      L, [seg(t1, b1, "PASSED", persistent=2), seg(t2, b2, "PASSED", persistent=1)],
      {"segments": 2, "leaks": 0, "bad_frees": 0, "malformed_lines": 0}, 0, 0)

# 7. corrupted: overlap, outside heap
t1 = "tests/test_corrupt.py::test_overlap[nanox]"
t2 = "tests/test_corrupt.py::test_outside_heap[nanox]"
b1 = [P+"==MP init;"+H, P+"==MP alloc;64;0xda7a0008;src/a.c:1", P+"==MP alloc;32;0xda7a0020;src/a.c:2",
      P+"==MP free;0xda7a0008;src/a.c:3", P+"==MP free;0xda7a0020;src/a.c:4"]
b2 = [P+"==MP init;"+H, P+"==MP alloc;32;0xda7a2000;src/b.c:9", P+"==MP free;0xda7a2000;src/b.c:10",
      P+"==MP alloc;16;0xda7a0008;src/b.c:11", P+"==MP free;0xda7a0008;src/b.c:12"]
L = header(2) + start(t1) + b1 + end("PASSED", 50) + start(t2) + b2 + end("PASSED", 100) + footer(0, 2)
write("corrupted", "a corrupted log: an allocation overlapping a live block, one outside the heap (reported, no leak, no bad free)",
      L, [seg(t1, b1, "PASSED", overlaps=1, max_live=None), seg(t2, b2, "PASSED", outside_heap=1, max_live=None)],
      {"segments": 2, "leaks": 0, "bad_frees": 0, "malformed_lines": 0}, 0, 0)

# 8. malformed
t1 = "tests/test_error_cmd.py::test_bad_cla[nanox]"
b1 = [P+"==MP free;0xda7a0008;src/main.c:300",  # before any init
      P+"==MP init;"+H,
      P+"==MP alloc;24;0xda7a",                 # truncated
      P+"==MP alloc;2x4;0xda7a0008;src/m.c:3",  # bad size
      P+"==MP free;0xqq;src/m.c:4",             # bad pointer
      P+"==MP resize;24;0xda7a0008;src/m.c:5",  # unknown event
      "==MP init;0xda7a0000",                   # truncated init (bare)
      P+"==MPinit;0xda7a0000;4096",             # not an ==MP line at all (no space)
      P+"==MP alloc;16;0xda7a0008;src/m.c:7", P+"==MP free;0xda7a0008;src/m.c:8"]
L = header(1) + start(t1) + b1 + end("PASSED", 100) + footer(0, 1)
write("malformed", "six malformed lines (free before any init, truncated, bad numbers, unknown event, truncated init); '==MPinit' is not a log line",
      L, [seg(t1, b1, "PASSED", allocations=1, total_allocated=16, max_live=16)],
      {"segments": 1, "leaks": 0, "bad_frees": 0, "malformed_lines": 6}, 0, 1)

# 9. prefix and bare mixed, odd file names
t1 = "tests/test_native.py::test_mixed_output[native-1]"
b1 = [P+"==MP init;"+H, "==MP alloc;40;0xda7a0008;app.c:1",
      P+"==MP alloc;16;0xda7a0038;lib;v2/x:y.c:12",
      "==MP alloc;24;0xda7a0050;...ng/path/to/app.c:42",
      "12:00:01.123 [speculos] " + P + "==MP free;0xda7a0008;app.c:5",
      "random output without newline then ==MP free;0xda7a0050;app.c:6"]
L = header(1) + start(t1) + b1 + end("PASSED", 100) + footer(0, 1)
write("prefix_mixed", "emulator-prefixed and bare lines mixed, ==MP after other text, file names with ';' and ':' and a shortened '...' name; one leak",
      L, [seg(t1, b1, "PASSED", leaks=1,
              leak_details=[{"ptr": "0xda7a0038", "size": 16, "site": "lib;v2/x:y.c:12"}])],
      {"segments": 1, "leaks": 1, "bad_frees": 0, "malformed_lines": 0}, 1, 1)

# 10. no pytest: the example app's real log (tests/e2e/profiling_example.golden) on stderr, with its stdout
base = 0x55d0c8a3c040
g = open(os.path.join(ROOT, "tests", "e2e", "profiling_example.golden")).read().splitlines()
body = []
for l in g:
    if l.startswith("==MP! "):
        continue  # the example's deliberate misuse: faults.log has faults
    l = l.replace("init;heap;", "init;0x%x;" % base)
    if "heap+0x" in l:
        a, rest = l.split("heap+0x", 1)
        off, rest2 = rest.split(";", 1)
        l = a + "0x%x;" % (base + int(off, 16)) + rest2
    body.append(l)
out = ["$ ./build/examples/profiling_example", "after init                 total  8192  allocated     0 in  0 block(s)  free  8144  chunks  1"]
out += body[:5] + ["after allocs               total  8192  allocated  1472 in  4 block(s)  free  6560  chunks  5"] + body[5:]
out += ["example: fault 2 at 0x55d0c8a3e000 recorded", "example: done"]
write("no_pytest", "no pytest output at all: one segment, the whole log (the example app's real log: one deliberate leak, one persistent block)",
      out, [seg(None, body, None, leaks=1, persistent=1,
                leak_details=[{"ptr": "0x%x" % (base + 0x228), "size": 48, "site": "profiling_example.c:122"}])],
      {"segments": 1, "leaks": 1, "bad_frees": 0, "malformed_lines": 0}, 1, 1)

# 11. pytest -s: the first ==MP line on the test-id line; a -v line with its status on the same line
t1 = "tests/test_sign_cmd.py::test_sign_tx_short_tx[stax]"
t2 = "tests/test_version_cmd.py::test_version[stax]"
b1 = [P+"==MP init;0xda7a1000;32768", P+"==MP alloc;256;0xda7a1008;src/ui/nbgl_review.c:302",
      "=> e004000015", P+"==MP alloc;64;0xda7a1110;src/transaction/tlv.c:37",
      P+"==MP free;0xda7a1110;src/transaction/tlv.c:52", "<= 9000",
      P+"==MP free;0xda7a1008;src/ui/nbgl_review.c:340"]
L = (header(2) + [t1 + " " + b1[0]] + b1[1:] + ["PASSED"] + [t2 + " PASSED                                   [100%]"]
     + footer(0, 2))
write("same_line", "pytest -s writes the test's first output on the test-id line (an init here); a -v line carries its status; the second test has no log lines",
      L, [seg(t1, b1, "PASSED"), seg(t2, [], "PASSED")],
      {"segments": 2, "leaks": 0, "bad_frees": 0, "malformed_lines": 0, "highest_max_live": 320}, 0, 0)

# 12. faults: the second of three tests has a double free (the app's handler returned) and an
# overflow found by a free the heap refused (no free line: the block stays live, a leak of that
# test when the third test's init discards it); each fault with the sites of its block
F = P + "==MP! "
t1 = "tests/test_sign_cmd.py::test_sign_tx_short_tx[nanox]"
t2 = "tests/test_sign_cmd.py::test_sign_tx_long_tx[nanox]"
t3 = "tests/test_version_cmd.py::test_version[nanox]"
b1 = [P+"==MP init;"+H, "=> e004000015", P+"==MP alloc;64;0xda7a0008;src/transaction/tlv.c:37",
      P+"==MP free;0xda7a0008;src/transaction/tlv.c:52", "<= 9000"]
b2 = [P+"==MP init;"+H, "=> e004000099", P+"==MP alloc;32;0xda7a0008;src/transaction/tlv.c:37",
      P+"==MP alloc;200;0xda7a0030;src/ui/display;v2:x.c:143",
      P+"==MP free;0xda7a0008;src/transaction/tlv.c:52",
      F+"fault;3;0xda7a0008;freed;double free", F+"site;alloc;0xda7a0008;src/transaction/tlv.c:37",
      F+"site;free;0xda7a0008;src/transaction/tlv.c:52",
      P+"[app] fault 3 at 0xda7a0008",
      F+"fault;5;0xda7a0030;live;buffer overflow (tail canary)",
      F+"site;alloc;0xda7a0030;src/ui/display;v2:x.c:143",
      P+"[app] fault 5 at 0xda7a0030", "<= 6f00",
      "E       ragger.error.ExceptionRAPDU: Error [0x6f00]"]
b3 = [P+"==MP init;"+H, P+"==MP alloc;16;0xda7a0008;src/handler/get_version.c:30",
      P+"==MP free;0xda7a0008;src/handler/get_version.c:44"]
L = (header(3) + start(t1) + b1 + end("PASSED", 33) + start(t2) + b2 + end("FAILED", 66)
     + start(t3) + b3 + end("PASSED", 100) + footer(1, 2))
write("faults", "faults the heap reported (==MP! lines) in the second of three tests: a double free and an overflow, each with its block's sites; the overflowed block's free was refused, so it leaks",
      L, [seg(t1, b1, "PASSED"),
          seg(t2, b2, "FAILED", faults=2, leaks=1,
              leak_details=[{"ptr": "0xda7a0030", "size": 200, "site": "src/ui/display;v2:x.c:143"}],
              fault_details=[{"code": 3, "ptr": "0xda7a0008", "known": "freed",
                              "alloc_site": "src/transaction/tlv.c:37", "free_site": "src/transaction/tlv.c:52"},
                             {"code": 5, "ptr": "0xda7a0030", "known": "live",
                              "alloc_site": "src/ui/display;v2:x.c:143", "free_site": None}]),
          seg(t3, b3, "PASSED")],
      {"segments": 3, "leaks": 1, "bad_frees": 0, "faults": 2, "malformed_lines": 0}, 1, 1)
print("ok")
