"""Tools and meson build directories: tools/deps when something is missing, the probes for
libFuzzer and AFL++, and one build directory per engine and hardening level
(build-fuzz-libfuzzer-LEVEL, build-fuzz-afl-LEVEL, build-fuzz-afl-cmplog-LEVEL), the apps'
harnesses (build-app-libfuzzer-LEVEL), the coverage build, and the tools (replay, decode,
encode) in build/ or build-LEVEL/ (tools/test's directories)."""

import json
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from .common import DEFAULT_LEVEL, REPO, TARGETS, Failure, Skipped, Usage, say, shown, tail

BUILD_COVERAGE = REPO / "build-fuzz-coverage"


def libfuzzer_dir(level):
    return REPO / f"build-fuzz-libfuzzer-{level}"


def afl_dir(level):
    return REPO / f"build-fuzz-afl-{level}"


def afl_cmplog_dir(level):
    return REPO / f"build-fuzz-afl-cmplog-{level}"


def tools_dir(level):
    """build/ at the default level, build-LEVEL/ otherwise: the directories tools/test uses."""
    return REPO / "build" if level == DEFAULT_LEVEL else REPO / f"build-{level}"


class Env:
    """What the run installed or built already, so that tools/deps runs at most once per
    package group and each build directory is brought up to date once."""
    deps_ran = set()
    built = {}


def run_deps(group="--fuzz"):
    """tools/deps (meson, ninja, clang with libFuzzer) or tools/deps --fuzz (AFL++, llvm)."""
    if group in Env.deps_ran:
        return False
    Env.deps_ran.add(group)
    cmd = [str(REPO / "tools" / "deps")] + ([group] if group else [])
    say(f"installing what is missing: tools/deps{' ' + group if group else ''}")
    try:
        subprocess.run(cmd, check=True)
    except (OSError, subprocess.CalledProcessError) as e:
        say(f"tools/deps failed ({e})")
        return False
    return True


def have(*tools):
    return all(shutil.which(t) for t in tools)


def ensure_base_tools():
    if not have("meson", "ninja"):
        run_deps("")
    if not have("meson", "ninja"):
        raise Failure("meson and ninja are needed (tools/deps installs them)")


def libfuzzer_works(artifacts):
    """True when clang links a -fsanitize=fuzzer,address,undefined program."""
    clang = shutil.which("clang")
    if not clang:
        return False
    with tempfile.TemporaryDirectory(dir=artifacts) as tmp:
        src = Path(tmp) / "probe.c"
        src.write_text("#include <stddef.h>\n#include <stdint.h>\n"
                       "int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);\n"
                       "int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)"
                       " { (void)d; (void)n; return 0; }\n")
        r = subprocess.run([clang, "-fsanitize=fuzzer,address,undefined", str(src), "-o",
                            str(Path(tmp) / "probe")], capture_output=True)
        return r.returncode == 0


def ensure_libfuzzer(artifacts, smoke):
    if libfuzzer_works(artifacts):
        return
    if run_deps("") and libfuzzer_works(artifacts):
        return
    msg = "clang's libFuzzer (clang -fsanitize=fuzzer, Debian clang + libclang-rt-dev) is not available"
    if smoke:
        raise Skipped(f"smoke skipped: {msg}")
    raise Failure(msg)


AFL_TOOLS = ("afl-fuzz", "afl-clang-fast", "afl-cmin", "afl-showmap")


def ensure_afl():
    if have(*AFL_TOOLS):
        return
    run_deps()
    if not have(*AFL_TOOLS):
        missing = [t for t in AFL_TOOLS if not shutil.which(t)]
        raise Failure(f"AFL++ is not available ({', '.join(missing)} missing; tools/deps --fuzz installs afl++)")


def find_llvm_tool(name):
    """llvm-profdata / llvm-cov, preferring the version of clang (Debian names them NAME-14)."""
    major = None
    clang = shutil.which("clang")
    if clang:
        r = subprocess.run([clang, "--version"], capture_output=True, text=True)
        m = re.search(r"clang version (\d+)", r.stdout)
        major = m.group(1) if m else None
    candidates = ([f"{name}-{major}"] if major else []) + [name]
    for c in candidates:
        found = shutil.which(c)
        if found:
            return found
    for d in sorted(Path("/usr/lib").glob("llvm-*/bin"), reverse=True):
        if (d / name).exists():
            return str(d / name)
    return None


def run_logged(cmd, log, env=None, what=None):
    """Runs cmd with its output appended to log; Failure with the log's tail on error."""
    with open(log, "a") as f:
        f.write(f"\n$ {' '.join(map(str, cmd))}\n")
        f.flush()
        r = subprocess.run([str(c) for c in cmd], cwd=REPO, env=env, stdout=f, stderr=subprocess.STDOUT)
    if r.returncode != 0:
        raise Failure(f"{what or cmd[0]} failed (exit {r.returncode}); log {shown(log)}:\n{tail(log)}")


def meson_build(build_dir, setup_args, log, env_extra=None, targets=(), owned=True):
    """meson setup (when the directory is not configured yet) then ninja. A directory the
    campaign owns remembers how it was set up (.campaign-setup): the compiler wrapper's
    environment (AFL_USE_ASAN, AFL_LLVM_CMPLOG) is invisible to ninja, so a directory set up
    another way is set up again rather than silently reused."""
    env = dict(os.environ)
    env.update(env_extra or {})
    name = build_dir.name
    stamp = build_dir / ".campaign-setup"
    wanted = json.dumps({"args": list(setup_args), "env": env_extra or {}}, sort_keys=True)
    if owned and (build_dir / "build.ninja").exists() and stamp.exists() \
            and stamp.read_text() != wanted:
        say(f"{name} was set up with other options: setting it up again")
        shutil.rmtree(build_dir)
    if not (build_dir / "build.ninja").exists():
        if build_dir.exists() and not (build_dir / "meson-private" / "coredata.dat").exists():
            shutil.rmtree(build_dir)  # a setup that failed half way
        say(f"configuring {name}")
        run_logged(["meson", "setup", build_dir] + list(setup_args), log, env, f"meson setup {name}")
    if owned:
        stamp.write_text(wanted)
    say(f"building {name}" + (f" ({', '.join(targets)})" if targets else ""))
    run_logged(["ninja", "-C", build_dir] + list(targets), log, env, f"ninja -C {name}")


def once(key, build):
    """build() the first time key is asked for in this run; its result every time."""
    if key not in Env.built:
        Env.built[key] = build()
    return Env.built[key]


def build_tools(log, level=DEFAULT_LEVEL):
    """fuzz/replay, fuzz/decode, fuzz/encode without sanitizers at a hardening level: build/ (the
    default build, standard) or build-LEVEL/ (-Dhardening=LEVEL), the directories of tools/test."""
    d = tools_dir(level)

    def build():
        setup = [] if level == DEFAULT_LEVEL else [f"-Dhardening={level}"]
        meson_build(d, setup, log, targets=("fuzz/replay", "fuzz/decode", "fuzz/encode"), owned=False)
        return {t: d / "fuzz" / t for t in ("replay", "decode", "encode")}

    return once(("tools", level), build)


SAN_ARGS = ["-Db_sanitize=address,undefined", "-Db_lundef=false"]


def build_libfuzzer(log, level):
    d = libfuzzer_dir(level)

    def build():
        meson_build(d, ["-Dfuzzing=true", "-Dfuzz_engine=libfuzzer", "-Dtests=false",
                        f"-Dhardening={level}"] + SAN_ARGS,
                    log, {"CC": "clang", "CXX": "clang++"})
        return d

    return once(("libfuzzer", level), build)


def app_dir(level):
    return REPO / f"build-app-libfuzzer-{level}"


def build_apps(log, level, apps):
    """The apps' libFuzzer harnesses at a level, in build-app-libfuzzer-LEVEL: set up as the
    project's libFuzzer builds are (clang, ASan+UBSan), only the harnesses built. Returns the
    build directory."""
    d = app_dir(level)
    targets = tuple(a.ninja_target() for a in apps)

    def build():
        try:
            meson_build(d, ["-Dfuzzing=true", "-Dfuzz_engine=libfuzzer", "-Dtests=false",
                            f"-Dhardening={level}"] + SAN_ARGS,
                        log, {"CC": "clang", "CXX": "clang++"}, targets=targets)
        except Failure as e:
            if "unknown target" in str(e):
                raise Failure(f"{e}\nAn app's harness DIR/fuzz_NAME is built by DIR/meson.build in the "
                              "libFuzzer fuzz builds, DIR being subdir()'d from meson (docs/FUZZING.md "
                              "\"Fuzzing your own app\")")
            raise
        return d

    return once(("apps", level, targets), build)


def afl_build_env(cmplog):
    env = {"CC": "afl-clang-fast", "CXX": "afl-clang-fast++", "AFL_QUIET": "1"}
    if cmplog:
        env["AFL_LLVM_CMPLOG"] = "1"  # CmpLog tracing only: no sanitizers, it runs beside the main binary
    else:
        env["AFL_USE_ASAN"] = "1"
        env["AFL_USE_UBSAN"] = "1"
    return env


def build_afl(log, level):
    """The AFL++ build (ASan + UBSan) and the CmpLog build of a level."""
    main, cmplog = afl_dir(level), afl_cmplog_dir(level)

    def build():
        common = ["-Dfuzzing=true", "-Dfuzz_engine=afl", "-Dtests=false", "-Db_lundef=false",
                  f"-Dhardening={level}"]
        meson_build(main, common, log, afl_build_env(False))
        # built by hand without AFL_USE_ASAN, ninja would not know: check the binaries
        binaries = [p for p in (main / "fuzz").glob("fuzz_*") if p.suffix != ".so"]
        if any(b.is_file() and b"__asan_init" not in b.read_bytes() for b in binaries):
            say(f"{main.name} holds targets built without ASan: building it again")
            shutil.rmtree(main)
            meson_build(main, common, log, afl_build_env(False))
        meson_build(cmplog, common, log, afl_build_env(True))
        return main, cmplog

    return once(("afl", level), build)


def built_targets(build_dir):
    """The fuzz_* programs of build_dir/fuzz: TARGETS (in order) then any other."""
    fuzz_dir = build_dir / "fuzz"
    built = sorted(p.name for p in fuzz_dir.glob("fuzz_*")
                   if p.is_file() and os.access(p, os.X_OK) and p.suffix != ".so") \
        if fuzz_dir.is_dir() else []
    return [t for t in TARGETS if t in built] + [t for t in built if t not in TARGETS]


def discover_targets(build_dirs, wanted):
    """Targets to run, in order, from the build directories of every level asked for: the
    wanted ones (each must be built in one of them), else every one built."""
    built = {d: built_targets(d) for d in build_dirs}
    order = []
    for names in built.values():
        order += [t for t in names if t not in order]
    order = [t for t in TARGETS if t in order] + [t for t in order if t not in TARGETS]
    names = ", ".join(d.name for d in build_dirs)
    if wanted:
        unknown = [t for t in wanted if t not in order]
        if unknown:
            raise Usage(f"unknown target '{unknown[0]}' (built in {names}: {', '.join(order) or 'none'})")
        return wanted
    for t in TARGETS:
        for d, have_built in built.items():
            if t not in have_built:
                say(f"{t} is listed but was not built in {d.name}; skipped there")
    if not order:
        raise Failure(f"no fuzz target was built in {names}")
    return order
