"""--plot: live bytes over the event sequence, one colored run per segment,
each peak marked, the heap size drawn. Needs python3-matplotlib (imported here
only, lazily); without it, plot() returns the one line to print."""


class CannotWrite(Exception):
    """The image could not be written (path or format): a usage error, as
    for --json and --junit."""


MISSING = ("valground: --plot needs python3-matplotlib (Debian: apt-get install "
           "python3-matplotlib; run under /usr/bin/python3)")


def plot(analyzer, path):
    """Writes the image (format from the extension); returns None, or the
    message that matplotlib is missing. Raises CannotWrite."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return MISSING
    fig, ax = plt.subplots(figsize=(12, 5))
    heap_drawn = False
    for seg in analyzer.segments:
        pts = seg.series or [(seg.start_event, 0)]
        xs = [p[0] for p in pts]
        ys = [p[1] for p in pts]
        line, = ax.step(xs, ys, where="post", label=f"{seg.index}: {seg.name}"[:40])
        ax.plot([seg.peak_event], [seg.max_live], marker="v", color=line.get_color())
        ax.annotate(f"{seg.max_live} B", (seg.peak_event, seg.max_live), textcoords="offset points",
                    xytext=(0, 6), ha="center", fontsize=7)
        if seg.heap_size:
            ax.hlines(seg.heap_size, seg.start_event, max(seg.end_event, seg.start_event + 1),
                      colors="gray", linestyles="dashed",
                      label=None if heap_drawn else "heap size")
            heap_drawn = True
        ax.axvline(seg.start_event, color="lightgray", linewidth=0.5)
    ax.set_xlabel("event (==MP line)")
    ax.set_ylabel("live bytes")
    ax.set_title("valground: live bytes per test")
    if len(analyzer.segments) <= 20:
        ax.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    try:
        fig.savefig(path)
    except (OSError, ValueError) as err:
        raise CannotWrite(f"valground: cannot write the plot {path}: {err}") from None
    finally:
        plt.close(fig)
    return None
