"""The code of fuzz/campaign (the entry point beside this directory), one module per concern.

A module imports only modules above it in this list (no cycles):

    common     repository, targets, hardening levels, errors, corpus file helpers
    apps       apps fuzzed on hardalloc (--app): fuzz/apps.list, an app's directories
    cli        the options
    procs      fuzzer processes: sessions, deadlines, Ctrl-C, the subreaper
    build      tools/deps, the engine probes, the build directories (one per engine and level,
               build-app-libfuzzer-LEVEL for the apps)
    jobs       a (target, level) job and its directories in the artifacts
    libfuzzer  the libFuzzer engine, the edge merge (control file), corpus coverage
    afl        the AFL++ engine (custom mutator, CmpLog), queue union, afl-cmin
    corpus     what is added to / kept in corpus/<target>/, canonical write-back
    crashes    triage: signature, decoded program, reproduce command
    report     the table, summary.txt / summary.json / --json, the throughput table
    coverage   --coverage
    run        the campaign, --merge-only, --throughput
    main       main(argv)
"""
