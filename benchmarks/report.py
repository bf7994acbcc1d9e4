"""Presenting `bench.measure`'s result: a text table of medians and ratios, and a PNG chart."""
from __future__ import annotations

import textwrap

from .bench import FIRST_CALL_COLUMNS, MEM_DEVICE, TARGETS
from .columns import LABELS


def _fmt(v, scale=1.0, spec="10.3f"):
    return f"{v * scale:{spec}}" if isinstance(v, (int, float)) else f"{'-':>{spec.split('.')[0]}}"


def table(result):
    """Per workload: one row per column (ms/step median, first call s, peak MiB), then ratios."""
    lines = []
    for w, wr in result["workloads"].items():
        lines.append(f"\n{w}: {wr['title']}")
        lines.append(f"  {'column':<20} {'ms/step':>10} {'first call s':>13} {'peak MiB':>9}"
                     f"  device")
        for c, r in wr["columns"].items():
            if not r.get("available"):
                lines.append(f"  {LABELS[c]:<20} unavailable: {r.get('error', '?')}")
                continue
            mem = _fmt(r.get("peak_mem_bytes"), 2 ** -20, "9.1f")
            mark = "*" if r.get("mem_method") == MEM_DEVICE else ""
            lines.append(f"  {LABELS[c]:<20} {_fmt(r.get('step_s_median'), 1e3)} "
                         f"{_fmt(r.get('first_call_s'), 1, '13.3f')} {mem}{mark:1} "
                         f"{r.get('device', '')}")
        ra = wr["ratios"]

        def show(key, label):
            v = ra.get(key)
            tgt = TARGETS.get(key)
            verdict = "" if tgt is None or v is None else \
                f"  (target <= {tgt}: {'met' if v <= tgt else 'NOT met'})"
            return f"  {label:<40} {_fmt(v, 1, '6.3f')}{verdict}"
        lines.append(show("compiled_vs_flax", "jtorch.compile / flax, step time"))
        lines.append(show("compiled_vs_flax_same_settings",
                          "jtorch.compile / flax, jtorch settings"))
        lines.append(show("compiled_first_call_vs_flax", "jtorch.compile / flax, first call"))
        lines.append(show("eager_vs_torch", "jtorch eager / PyTorch eager, step time"))
    for c, why in result["meta"].get("skipped_columns", {}).items():
        lines.append(f"\n{LABELS[c]}: {why}")
    n = result["meta"]["config"].get("first_calls", 1)
    if n > 1:
        lines.append(f"\n{' and '.join(LABELS[c] for c in FIRST_CALL_COLUMNS)} (the targets' "
                     f"pair) run in {n} fresh processes each, twice: first call s is\n  the "
                     "median of first calls timed in processes that run alone, ms/step pools "
                     "the rounds of\n  processes that run side by side; one process (each "
                     "way) for the other columns.")
    lines.append("\npeak MiB: a fresh process's peak RSS (VmHWM) minus its RSS after the library "
                 "imports\n  (includes compiler memory); * = device allocator peak (accelerator).\n"
                 "jtorch settings: importing jtorch keeps freed host buffers for reuse "
                 "(jtorch._cpu_runtime);\n  flax in a process with the same settings "
                 "shows what they alone are worth.")
    return "\n".join(lines)


def plot(result, path):
    """Grouped bar chart of median step times (log scale); returns a one-line note."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return (f"matplotlib is not installed, so {path} was not written "
                f"(pip install 'jtorch[bench]' or pip install matplotlib)")
    wls = list(result["workloads"])
    cols = []
    for wr in result["workloads"].values():
        cols += [c for c in wr["columns"] if c not in cols]
    fig, ax = plt.subplots(figsize=(2.2 + 2.0 * len(wls), 4.5))
    width = 0.8 / max(1, len(cols))
    for i, c in enumerate(cols):
        xs, ys = [], []
        for j, w in enumerate(wls):
            v = result["workloads"][w]["columns"].get(c, {}).get("step_s_median")
            if v:
                xs.append(j + (i - (len(cols) - 1) / 2) * width)
                ys.append(v * 1e3)
        bars = ax.bar(xs, ys, width, label=LABELS[c])
        ax.bar_label(bars, [f"{v:.3g}" if v < 1000 else f"{v:.0f}" for v in ys], fontsize=6,
                     rotation=90, padding=2)
    ax.set_yscale("log")
    ax.set_xticks(range(len(wls)),
                  [f"{w}\n" + textwrap.fill(result["workloads"][w]["title"], 26) for w in wls],
                  fontsize=7)
    ax.set_ylabel("median ms / training step (log)")
    ax.set_title(f"jtorch bench ({result['meta']['mode']}): lower is better")
    ax.legend(fontsize=7)
    ax.margins(y=0.15)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return f"wrote {path}"
