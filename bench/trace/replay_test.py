#!/usr/bin/env python3
"""Tests of trace_replay (bench/trace/replay.c) and bench/trace/instructions, run by meson.

usage: replay_test.py CASE TRACE_REPLAY KNOWN_HAT [KNOWN_CHILD_HAT]

known:        trace_replay --rounds 1 on testdata/known.hat (and the fork
              child's trace): exit 0; hardalloc off, standard, paranoid and
              glibc each listed once per trace (and mimalloc, jemalloc,
              tcmalloc where installed), 0 failures, every smallest arena >=
              the trace's peak live bytes; --json writes the same numbers.
bad_input:    a missing trace and a corrupt one (a truncated copy, a bad
              magic): exit 2, one error line naming the file; bad options
              (--rounds, --arena, --peer, --only): exit 2, one line.
only:         --only keeps the back ends named, in their order; an unknown
              name: exit 2, one line naming it.
arena:        --arena BYTES: no bisection, that arena for every arena back end
              (no smallest arena in the table or the JSON); an arena too small
              for the trace: failures, exit 1.
missing_lib:  a system peer that is not there (TRACE_REPLAY_MIMALLOC pointing
              nowhere) or lacks its API: skipped with one line on stderr,
              exit 0; --only naming nothing else: exit 2.
peers:        --peer with the test libraries (testdata/testpeer.c, from the
              environment: REPLAY_TESTPEER_TLSF, _O1HEAP, _NONE): the TLSF-like
              and the o1heap-like replay the traces with 0 failures and a
              smallest arena; the TLSF-like's own realloc and memalign are
              called, the o1heap-like gets the fallbacks; the library with
              neither API: exit 2, one line.
instructions: bench/trace/instructions on the committed trace: a count per
              back end, > 0 (replay_loop found), split into the loop's own,
              the fallbacks' memset/memcpy (none for glibc) and the
              allocator's; JSON written; --from a trace_replay JSON with
              --merge writes the counts into it; usage errors: exit 2.
Exit 0 on success, 1 with the reason, 77 (skipped) when the case cannot run here.
"""
import json
import os
import re
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ALLOCATORS = ["hardalloc-off", "hardalloc-standard", "hardalloc-paranoid", "glibc"]
SYSTEM_PEERS = ["mimalloc", "jemalloc", "tcmalloc"]


def fail(msg):
    print("FAIL:", msg)
    sys.exit(1)


def skip(msg):
    print("SKIP:", msg)
    sys.exit(77)


def run(args, env=None):
    e = dict(os.environ)
    if env:
        e.update(env)
    p = subprocess.run(args, capture_output=True, text=True, timeout=250, env=e)
    return p.returncode, p.stdout, p.stderr


def parse_tables(out):
    """[(peak_live, {allocator: (ns, smallest or None, failures)}, [allocators in order])]."""
    tables = []
    for block in out.split("trace: ")[1:]:
        m = re.search(r"peak live (\d+) bytes", block)
        if not m:
            fail("no peak live bytes in:\n" + block)
        rows, order, inside = {}, [], False
        for line in block.splitlines():
            f = line.split()
            if f[:2] == ["allocator", "ns/op"]:
                inside = True
                continue
            if not inside or not f:
                continue
            if f[0] == "notes:":
                break
            if len(f) != 5:
                fail("bad row: " + line)
            smallest = None if f[2] == "-" else int(f[2])
            rows[f[0]] = (float(f[1]), smallest, int(f[4]) if f[4].isdigit() else f[4])
            order.append(f[0])
        tables.append((int(m.group(1)), rows, order))
    return tables


def one_line(rc, out, err, code, name, what):
    lines = err.strip().splitlines()
    if rc != code:
        fail(f"{what}: exit {rc}, expected {code}\n{out}{err}")
    if len(lines) != 1 or (name and name not in lines[0]):
        fail(f"{what}: expected one line naming {name!r}, got:\n{err}")
    print("ok:", lines[0])


def expect_bad(args, name):
    rc, out, err = run(args)
    one_line(rc, out, err, 2, name, " ".join(args))
    if out:
        fail(f"{args}: printed a table for bad input:\n{out}")


def case_known(exe, traces):
    with tempfile.TemporaryDirectory() as tmp:
        js = os.path.join(tmp, "out.json")
        rc, out, err = run([exe, "--rounds", "1", "--json", js] + traces)
        print(out, err)
        if rc != 0:
            fail(f"exit {rc}")
        tables = parse_tables(out)
        if len(tables) != len(traces):
            fail(f"{len(tables)} tables for {len(traces)} traces")
        for peak, rows, order in tables:
            if order[:4] != ALLOCATORS or not set(order[4:]) <= set(SYSTEM_PEERS):
                fail(f"allocators listed: {order}")
            if peak <= 0:
                fail("peak live bytes 0")
            for name, (ns, smallest, failures) in rows.items():
                if failures != 0:
                    fail(f"{name}: {failures} failures")
                if ns <= 0:
                    fail(f"{name}: ns/op {ns}")
                arena = name.startswith("hardalloc-")
                if arena and (smallest is None or smallest < peak):
                    fail(f"{name}: smallest arena {smallest} < peak live {peak}")
                if not arena and smallest is not None:
                    fail(f"{name}: a system allocator with a smallest arena")
        for peer in SYSTEM_PEERS:
            if peer not in tables[0][1] and f"{peer} skipped" not in err and \
                    "skipped under AddressSanitizer" not in err:
                fail(f"{peer} neither replayed nor skipped with a note:\n{err}")
        with open(js) as f:
            doc = json.load(f)
        if len(doc["traces"]) != len(traces):
            fail("json: trace count")
        for t, (peak, rows, order) in zip(doc["traces"], tables):
            if t["peak_live_bytes"] != peak:
                fail("json: peak live bytes differ from the table")
            names = [a["name"] for a in t["allocators"]]
            if names != order:
                fail(f"json: allocators {names}, table {order}")
            for a in t["allocators"]:
                if a["failures"] != 0 or len(a["ns_per_op_rounds"]) != 1:
                    fail(f"json: {a}")
                if a["kind"] != ("arena" if a["name"].startswith("hardalloc-") else "system"):
                    fail(f"json: kind of {a}")
                if a["kind"] == "arena":
                    if a["smallest_arena"] != rows[a["name"]][1]:
                        fail(f"json: smallest arena of {a['name']} differs from the table")
                    if a["arena"] < 2 * a["smallest_arena"] - 8:
                        fail(f"json: arena {a['arena']} is not 2 x {a['smallest_arena']}")
                elif "arena" in a or "smallest_arena" in a:
                    fail(f"json: a system allocator with an arena: {a}")
        keys = [a["key"] for a in doc["traces"][0]["allocators"]]
        if keys[:4] != ["off", "standard", "paranoid", "glibc"]:
            fail(f"json: keys {keys}")


def case_bad_input(exe, traces):
    with tempfile.TemporaryDirectory() as tmp:
        missing = os.path.join(tmp, "missing.hat")
        expect_bad([exe, "--rounds", "1", missing], missing)
        data = open(traces[0], "rb").read()
        trunc = os.path.join(tmp, "truncated.hat")
        with open(trunc, "wb") as f:
            f.write(data[: len(data) // 2])
        expect_bad([exe, "--rounds", "1", trunc], trunc)
        magic = os.path.join(tmp, "magic.hat")
        with open(magic, "wb") as f:
            f.write(b"NOTATRACE" + data[9:])
        expect_bad([exe, "--rounds", "1", magic], magic)
        # a good trace before a bad one: still exit 2, no table
        expect_bad([exe, "--rounds", "1", traces[0], trunc], trunc)
        for bad, name in ((["--rounds", "0"], "--rounds"), (["--rounds", "x"], "--rounds"),
                          (["--arena-factor", "0.5"], "--arena-factor"),
                          (["--arena", "100"], "--arena"), (["--arena", "1e12"], "--arena"),
                          (["--arena", "4096.5"], "--arena"),
                          (["--arena", "4096", "--arena-factor", "3"], "exclude"),
                          (["--peer", "noequals"], "--peer"), (["--peer", "=x.so"], "--peer"),
                          (["--peer", "a b=x.so"], "--peer"), (["--peer", "x="], "--peer"),
                          (["--peer", "x" * 40 + "=x.so"], "--peer"),
                          (["--peer", "off=x.so"], "built-in"),
                          (["--peer", "glibc=x.so"], "built-in"),
                          (["--peer", "hardalloc-x=x.so"], "built-in"),
                          (["--peer", "p=" + missing + ".so"], missing + ".so"),
                          (["--only", "bogus"], "bogus"),
                          (["--bogus"], None)):
            rc, out, err = run([exe] + bad + [traces[0]])
            if bad == ["--bogus"]:  # the option, then the usage line
                if rc != 2 or "--bogus" not in err:
                    fail(f"--bogus: exit {rc}\n{err}")
                continue
            one_line(rc, out, err, 2, name, " ".join(bad))
        rc, _, _ = run([exe])
        if rc != 2:
            fail(f"no trace: exit {rc}, expected 2")


def case_only(exe, traces):
    rc, out, err = run([exe, "--rounds", "1", "--only", "glibc,off", traces[0]])
    if rc != 0:
        fail(f"--only glibc,off: exit {rc}\n{out}{err}")
    order = parse_tables(out)[0][2]
    if order != ["hardalloc-off", "glibc"]:
        fail(f"--only glibc,off: rows {order} (expected the back ends' own order)")
    if err.strip():
        fail(f"--only glibc,off: notes for back ends not asked for:\n{err}")
    rc, out, err = run([exe, "--rounds", "1", "--only", "paranoid", traces[0]])
    if rc != 0 or parse_tables(out)[0][2] != ["hardalloc-paranoid"]:
        fail(f"--only paranoid: exit {rc}\n{out}{err}")
    for bad, name in ((["--only", "off,bogus"], "'bogus'"), (["--only", "off,,glibc"], "''"),
                      (["--only", "hardalloc-off"], "'hardalloc-off'"),
                      (["--only", ""], "''")):
        rc, out, err = run([exe, "--rounds", "1"] + bad + [traces[0]])
        one_line(rc, out, err, 2, name, " ".join(bad))


def case_arena(exe, traces):
    with tempfile.TemporaryDirectory() as tmp:
        js = os.path.join(tmp, "out.json")
        arena = 1 << 20
        rc, out, err = run([exe, "--rounds", "2", "--arena", str(arena), "--json", js,
                            "--only", "off,standard,glibc"] + traces)
        if rc != 0:
            fail(f"--arena {arena}: exit {rc}\n{out}{err}")
        if f"arena {arena} bytes (--arena)" not in out:
            fail("--arena not named in the trace line:\n" + out)
        for _, rows, order in parse_tables(out):
            if order != ["hardalloc-off", "hardalloc-standard", "glibc"]:
                fail(f"rows {order}")
            for name, (_, smallest, failures) in rows.items():
                if smallest is not None or failures != 0:
                    fail(f"{name}: smallest {smallest}, failures {failures} with --arena")
        with open(js) as f:
            doc = json.load(f)
        if doc.get("arena") != arena:
            fail(f"json: arena {doc.get('arena')}")
        for t in doc["traces"]:
            for a in t["allocators"]:
                if a["kind"] == "arena" and (a["arena"] != arena or "smallest_arena" in a):
                    fail(f"json: {a}")
        # an arena far below the trace's peak live bytes: failures, exit 1
        rc, out, err = run([exe, "--rounds", "1", "--arena", "4096", "--only", "off",
                            traces[0]])
        rows = parse_tables(out)[0][1] if out else {}
        if rc != 1 or not rows or rows["hardalloc-off"][2] in (0, "init"):
            fail(f"--arena 4096: exit {rc}, expected 1 with failures\n{out}{err}")


def case_missing_lib(exe, traces):
    env = {"TRACE_REPLAY_MIMALLOC": "/nonexistent/libmimalloc.so.2",
           "TRACE_REPLAY_TCMALLOC": "libm.so.6"}  # there, but without tc_malloc
    rc, out, err = run([exe, "--rounds", "1", "--only", "off,mimalloc,tcmalloc", traces[0]],
                       env=env)
    if "AddressSanitizer" in err:
        skip("the system peers are skipped under AddressSanitizer: " + err.strip())
    if rc != 0:
        fail(f"a missing library: exit {rc}, expected 0\n{out}{err}")
    lines = err.strip().splitlines()
    if len(lines) != 2 or not lines[0].startswith("trace_replay: mimalloc skipped: ") or \
            "/nonexistent/libmimalloc.so.2" not in lines[0] or \
            not lines[1].startswith("trace_replay: tcmalloc skipped: libm.so.6: tc_malloc"):
        fail("expected one note per skipped library, got:\n" + err)
    if parse_tables(out)[0][2] != ["hardalloc-off"]:
        fail("rows: " + out)
    rc, out, err = run([exe, "--rounds", "1", "--only", "mimalloc", traces[0]], env=env)
    if rc != 2 or "no back end left" not in err or out:
        fail(f"--only a missing library: exit {rc}, expected 2\n{out}{err}")


def testpeers():
    libs = {k: os.environ.get("REPLAY_TESTPEER_" + k.upper()) for k in ("tlsf", "o1heap", "none")}
    if not all(libs.values()):
        skip("REPLAY_TESTPEER_TLSF, _O1HEAP, _NONE not set (the test libraries are not built)")
    return libs


def case_peers(exe, traces):
    libs = testpeers()
    with tempfile.TemporaryDirectory() as tmp:
        js = os.path.join(tmp, "out.json")
        stats = os.path.join(tmp, "stats")
        rc, out, err = run([exe, "--rounds", "2", "--json", js, "--peer", "tl=" + libs["tlsf"],
                            "--peer", "o1=" + libs["o1heap"], "--only", "o1,off,tl"] + traces,
                           env={"TESTPEER_STATS": stats})
        print(out, err)
        if rc != 0:
            fail(f"--peer: exit {rc}")
        for peak, rows, order in parse_tables(out):
            if order != ["hardalloc-off", "tl", "o1"]:
                fail(f"rows {order}")
            for name in ("tl", "o1"):
                _, smallest, failures = rows[name]
                if failures != 0 or smallest is None or smallest < peak:
                    fail(f"{name}: failures {failures}, smallest {smallest}, peak {peak}")
        if "o1 (o1heap): calloc = alloc + memset; realloc = alloc + memcpy" not in out or \
                "tl (tlsf): calloc = alloc + memset; 0 bytes asked as 1." not in out:
            fail("the peers' fallbacks are not noted:\n" + out)
        with open(js) as f:
            doc = json.load(f)
        peers = {p["name"]: (p["api"], p["path"]) for p in doc["peers"]}
        if peers != {"tl": ("tlsf", libs["tlsf"]), "o1": ("o1heap", libs["o1heap"])}:
            fail(f"json: peers {doc['peers']}")
        for a in doc["traces"][0]["allocators"]:
            if a["name"] in ("tl", "o1") and (a["kind"] != "arena" or
                                              a["arena"] < 2 * a["smallest_arena"] - 8):
                fail(f"json: {a}")
        with open(stats) as f:
            lines = dict(l.split(" ", 1) for l in f.read().splitlines())
        counts = {api: dict(kv.split("=") for kv in lines[api].split()) for api in lines}
        print("test library calls:", counts)
        tl, o1 = counts["tlsf"], counts["o1heap"]
        if int(tl["aligned"]) == 0 or int(tl["realloc"]) == 0:
            fail(f"the TLSF-like library's memalign or realloc not called: {tl}")
        if int(o1["alloc"]) == 0 or int(o1["create"]) == 0:
            fail(f"the o1heap-like library not called: {o1}")
        # --arena with the peers
        rc, out, err = run([exe, "--rounds", "1", "--arena", str(1 << 20), "--peer",
                            "tl=" + libs["tlsf"], "--peer", "o1=" + libs["o1heap"],
                            "--only", "tl,o1", traces[0]])
        rows = parse_tables(out)[0][1] if rc == 0 else {}
        if rc != 0 or rows["tl"][2] != 0 or rows["o1"][2] != 0:
            fail(f"--arena with the peers: exit {rc}\n{out}{err}")
        # an arena below the TLSF-like's control structure: refused by init
        rc, out, err = run([exe, "--rounds", "1", "--arena", "256", "--peer",
                            "tl=" + libs["tlsf"], "--only", "tl", traces[0]])
        if rc != 1 or "tl refused an arena of 256 bytes" not in err:
            fail(f"--arena 256 on the TLSF-like: exit {rc}\n{out}{err}")
    # neither API; a peer name --only does not know
    rc, out, err = run([exe, "--rounds", "1", "--peer", "x=" + libs["none"], traces[0]])
    one_line(rc, out, err, 2, "neither the TLSF 3.x API", "--peer x=<neither API>")
    rc, out, err = run([exe, "--rounds", "1", "--peer", "tl=" + libs["tlsf"], "--only", "tl,o1",
                        traces[0]])
    one_line(rc, out, err, 2, "'o1'", "--only naming a peer not given")
    rc, out, err = run([exe, "--rounds", "1", "--peer", "tl=" + libs["tlsf"], "--peer",
                        "tl=" + libs["o1heap"], traces[0]])
    one_line(rc, out, err, 2, "given twice", "--peer twice")


def case_instructions(exe, traces):
    script = os.path.join(HERE, "instructions")
    o1 = os.environ.get("REPLAY_TESTPEER_O1HEAP")
    with tempfile.TemporaryDirectory() as tmp:
        js = os.path.join(tmp, "i.json")
        only = "off,glibc" + (",o1" if o1 else "")
        args = [sys.executable, script, "--replay", exe, "--only", only, "--json", js]
        if o1:
            args += ["--peer", "o1=" + o1]
        rc, out, err = run(args + [traces[0]])
        print(out, err)
        if rc != 0:
            fail(f"instructions: exit {rc}")
        with open(js) as f:
            doc = json.load(f)
        got = {a["key"]: a for a in doc["traces"][0]["allocators"]}
        if sorted(got) != sorted(only.split(",")):
            fail(f"counted {sorted(got)}, expected {only}")
        for k, a in got.items():
            if not a["instructions"] > 0 or not a["instructions_per_op"] > 0:
                fail(f"{k}: {a}")
            if a["key"] in ("off", "o1") and not a["arena"]:
                fail(f"{k}: counted without the timing run's arena: {a}")
            if not a["loop_per_op"] > 0 or not a["alloc_per_op"] > 0:
                fail(f"{k}: no share for the loop or the allocator: {a}")
            # the loop's own memset (calloc) and memcpy (realloc) for a back end without
            # them, none for glibc (its calloc zeroes inside the allocator)
            if (a["fallback_mem_per_op"] > 0) != (a["key"] != "glibc"):
                fail(f"{k}: fallback memset/memcpy {a['fallback_mem_per_op']} per op")
        if not re.search(r"^hardalloc-off +\d+\.\d$", out, re.M):
            fail("no table row for off:\n" + out)
        # --from a trace_replay JSON, --merge
        rj = os.path.join(tmp, "replay.json")
        rc, out, err = run([exe, "--rounds", "1", "--only", "off,standard", "--json", rj,
                            traces[0]])
        if rc != 0:
            fail(f"trace_replay: exit {rc}\n{err}")
        rc, out, err = run([sys.executable, script, "--replay", exe, "--from", rj, "--merge",
                            "--only", "standard"])
        if rc != 0:
            fail(f"instructions --from --merge: exit {rc}\n{out}{err}")
        with open(rj) as f:
            doc = json.load(f)
        allocs = {a["key"]: a for a in doc["traces"][0]["allocators"]}
        if not allocs["standard"].get("instructions_per_op", 0) > 0 or \
                not allocs["standard"].get("alloc_instructions_per_op", 0) > 0 or \
                "instructions_per_op" in allocs["off"]:
            fail(f"--merge: {allocs}")
        # --arena: every arena back end counted at that one arena
        ja = os.path.join(tmp, "a.json")
        rc, out, err = run([sys.executable, script, "--replay", exe, "--only", "off,standard",
                            "--arena", "1048576", "--json", ja, traces[0]])
        if rc != 0:
            fail(f"instructions --arena: exit {rc}\n{out}{err}")
        with open(ja) as f:
            doc = json.load(f)
        arenas = {a["key"]: a.get("arena") for a in doc["traces"][0]["allocators"]}
        if arenas != {"off": 1048576, "standard": 1048576}:
            fail(f"--arena 1048576: counted at {arenas}")
        # usage errors: one line, exit 2
        for bad in (["--from", rj, traces[0]], ["--merge", traces[0]], [],
                    ["--arena", "0", traces[0]], ["--from", rj, "--arena", "4096"],
                    ["--replay", os.path.join(tmp, "nothing")] + traces[:1],
                    ["--from", os.path.join(tmp, "missing.json")], ["--jobs", "0", traces[0]]):
            rc, out, err = run([sys.executable, script] + (["--replay", exe] if "--replay" not in
                                                          bad else []) + bad)
            one_line(rc, out, err, 2, "instructions: ", " ".join(bad))


def main():
    if len(sys.argv) < 4:
        print(__doc__)
        sys.exit(2)
    case, exe, traces = sys.argv[1], sys.argv[2], sys.argv[3:]
    {"known": case_known, "bad_input": case_bad_input, "only": case_only, "arena": case_arena,
     "missing_lib": case_missing_lib, "peers": case_peers,
     "instructions": case_instructions}[case](exe, traces)
    print("PASS")


if __name__ == "__main__":
    main()
