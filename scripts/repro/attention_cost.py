#!/usr/bin/python3
"""Reproduction 5: the cost of attention, the quadratic claim.

    /usr/bin/python3 scripts/repro/attention_cost.py [--bench build/bench_attention] [--out out/repro/attention]
                                                     [--threads 2] [--max-t 4096] [--variants kernel,composite]

Runs bench_attention (bench/bench_attention.cpp; built in build/ when missing): time and peak tensor memory of
one forward + backward of multi-head attention, batch 1, d_model 64, 4 heads of 16, non-causal, for
T = 64, 128, ..., 4,096, with qkv's fused kernel attention() beside the composite of small ops (split heads,
q k^T, scale, softmax, times v, merge heads). The bench checks that both agree (outputs and gradients, to 1e-4)
for T <= 256 and fails otherwise. Times are medians of interleaved rounds; memory is the allocator's high-water
mark during the pass minus what was in use before it.

Expected (Vaswani et al. 2017, Table 1: self-attention is O(T^2 d) per layer): time slopes near 2 on a log-log
plot for both variants over T >= 256. Memory: the composite keeps the T x T weights for backward (slope 2); the
kernel keeps one log-sum-exp per query and recomputes the weights block by block (slope 1).
Prints the table, the fitted slopes beside that expectation and every command run; writes the bench's JSON lines
and a log-log SVG chart (time and memory panels, fitted slopes in the legends) to OUT. There is no pass/fail
target: it is a measurement, and it exits 0 when the bench ran and the two variants agreed.

With --variants kernel,local,linear (scripts/repro/attention_variants.sh, the attention lab) it compares full
attention (the kernel) with local attention (window 128) and linear attention instead: expected time and memory
slopes near 1 for the two linear-cost variants and a time slope near 2 for full attention.
"""
import argparse
import json
import math
import os
import sys
import xml.etree.ElementTree as ElementTree

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402
from common import ROOT  # noqa: E402

FIT_FROM = 256  # as the bench: below it the terms linear in T still show
LABELS = {"kernel": "qkv kernel attention()", "composite": "composite of small ops",
          "local": "local attention, window 128", "linear": "linear attention (elu + 1)"}
COLOURS = {"kernel": "#1f77b4", "composite": "#ff7f0e", "local": "#2ca02c", "linear": "#d62728"}  # qkv plot's
EXPECTED_TIME_SLOPE = {"kernel": 2, "composite": 2, "local": 1, "linear": 1}
NEAR = 0.25  # a slope within 2 +- NEAR reads "quadratic"


def default_bench():
    return os.path.join(ROOT, "build", "bench_attention")


def ensure_bench(path):
    """The bench binary; the default one is built (cmake + ninja -j2 in build/) when missing."""
    path = os.path.abspath(path)
    if os.access(path, os.X_OK):
        return path
    if path != default_bench():
        sys.exit(f"{path} is not an executable: build it (ninja -C build bench_attention) or pass --bench")
    build = os.path.dirname(path)
    if not os.path.exists(os.path.join(build, "build.ninja")):
        common.run(["cmake", "-S", ROOT, "-B", build, "-G", "Ninja"], nice=False)
    common.run(["ninja", "-C", build, "-j2", "bench_attention"])  # -j2: the machine has two cores
    return path


def run_bench(bench, threads, max_t, variants, out_dir):
    """Runs the bench with --json; returns (points, slopes, checks) and keeps its output in OUT."""
    print(f"running bench_attention ({threads} threads, T up to {max_t}, {', '.join(variants)}) ...", flush=True)
    out, seconds = common.run([bench, threads, max_t, "--json", "--variants", ",".join(variants)])
    with open(os.path.join(out_dir, "bench_attention.jsonl"), "w") as f:
        f.write(out)
    lines = [json.loads(line) for line in out.splitlines() if line.strip()]
    points = [j for j in lines if j["kind"] == "point"]
    slopes = {j["variant"]: j for j in lines if j["kind"] == "slope"}
    checks = [j for j in lines if j["kind"] == "check"]
    print(f"  {seconds:.1f} s of wall time", flush=True)
    return points, slopes, checks


def series(points, variant, key):
    """[(T, value)] of one variant, value in ms or MiB."""
    scale = 1.0 / 1048576 if key == "peak_bytes" else 1.0
    return [(p["T"], p[key] * scale) for p in points if p["variant"] == variant]


def fit(xy):
    """Least squares of log y against log T over T >= FIT_FROM: (slope, intercept), or None."""
    pts = [(math.log(t), math.log(y)) for t, y in xy if t >= FIT_FROM and y > 0]
    if len(pts) < 2:
        return None
    mx = sum(x for x, _ in pts) / len(pts)
    my = sum(y for _, y in pts) / len(pts)
    sxx = sum((x - mx) ** 2 for x, _ in pts)
    slope = sum((x - mx) * (y - my) for x, y in pts) / sxx
    return slope, my - slope * mx


# ---------------------------------------------------------------------------------------------------------
# The tables.

def print_tables(points, slopes, checks, max_t):
    by = {(p["T"], p["variant"]): p for p in points}
    rows = []
    for t in sorted({p["T"] for p in points}):
        k, c = by[(t, "kernel")], by[(t, "composite")]
        mib = lambda p: p["peak_bytes"] / 1048576
        rows.append([str(t), f"{k['ms']:.3f}", f"{c['ms']:.3f}", f"{c['ms'] / k['ms']:.2f}x", f"{mib(k):.2f}",
                     f"{mib(c):.2f}", f"{c['peak_bytes'] / k['peak_bytes']:.2f}x", str(k["runs"])])
    common.table("one attention forward + backward (batch 1, d_model 64, 4 heads): median ms and peak tensor MiB",
                 rows, header=("T", "kernel ms", "composite ms", "time ratio", "kernel MiB", "composite MiB",
                               "memory ratio", "rounds"))
    for c in checks:
        print(f"  T = {c['T']}: kernel and composite agree to {c['max_abs_diff_out']:.3g} (outputs), "
              f"{c['max_abs_diff_grad']:.3g} (dq, dk, dv); tolerance 1e-4")

    def cell(variant, what, expect=2):
        s = slopes.get(variant, {}).get(what)
        if s is None:
            return "n/a (too few T)"
        return f"{s:.3f} ({'near' if abs(s - expect) <= NEAR else 'not near'} {expect})"

    last = max(p["T"] for p in points)
    k, c = by[(last, "kernel")], by[(last, "composite")]
    common.table(f"log-log slopes (least squares over T >= {FIT_FROM}) and the kernel's advantage at T = {last}", [
        ["time slope", "2: O(T^2 d) (Vaswani et al. 2017, Table 1)", cell("kernel", "time"), cell("composite", "time")],
        ["memory slope", "composite 2: it keeps the T x T weights; kernel 1: one log-sum-exp per query",
         cell("kernel", "memory", 1), cell("composite", "memory")],
        [f"ms at T = {last}", "kernel below composite", f"{k['ms']:.1f}",
         f"{c['ms']:.1f} ({c['ms'] / k['ms']:.2f}x the kernel)"],
        [f"peak MiB at T = {last}", "kernel below composite", f"{k['peak_bytes'] / 1048576:.1f}",
         f"{c['peak_bytes'] / 1048576:.1f} ({c['peak_bytes'] / k['peak_bytes']:.2f}x the kernel)"],
    ], header=("", "expected", "qkv kernel", "qkv composite"))
    if last < max_t:
        print(f"  note: the bench stopped at T = {last}, below --max-t {max_t}")


def print_variant_tables(points, slopes, variants):
    """The attention lab: ms and MiB per variant and T, then each variant's slopes beside the expected ones."""
    by = {(p["T"], p["variant"]): p for p in points}
    rows = []
    for t in sorted({p["T"] for p in points}):
        cells = [str(t)]
        for v in variants:
            p = by[(t, v)]
            cells += [f"{p['ms']:.3f}", f"{p['peak_bytes'] / 1048576:.2f}"]
        rows.append(cells)
    header = ("T",) + tuple(f"{v} {unit}" for v in variants for unit in ("ms", "MiB"))
    common.table("one attention forward + backward (batch 1, d_model 64, 4 heads): median ms and peak tensor MiB",
                 rows, header=header)
    rows = []
    for v in variants:
        time, memory = slopes.get(v, {}).get("time"), slopes.get(v, {}).get("memory")
        rows.append([LABELS[v], f"time {EXPECTED_TIME_SLOPE[v]}, memory 1",
                     "n/a" if time is None else f"{time:.3f}", "n/a" if memory is None else f"{memory:.3f}"])
    common.table(f"log-log slopes (least squares over T >= {FIT_FROM})", rows,
                 header=("variant", "expected", "time slope", "memory slope"))


# ---------------------------------------------------------------------------------------------------------
# The chart: a standalone SVG, two log-log panels side by side.

WIDTH, HEIGHT = 1040, 430
PANEL_W, PANEL_TOP, PANEL_H = 400, 70, 300
PANEL_LEFT = (90, 600)


def esc(s):
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def num(x):
    return f"{x:.1f}"


def tick_label(v):
    return f"{v:g}" if v >= 1e-3 else f"{v:.0e}"


def y_ticks(lo, hi):
    """1-2-5 ticks per decade between lo and hi (log axis)."""
    ticks = []
    for e in range(math.floor(math.log10(lo)), math.ceil(math.log10(hi)) + 1):
        for m in (1, 2, 5):
            v = m * 10.0 ** e
            if lo <= v * (1 + 1e-9) and v <= hi * (1 + 1e-9):
                ticks.append(v)
    return ticks


class Panel:
    """Maps (T, value) to pixels on log axes: T in powers of two, values padded to whole 1-2-5 steps."""

    def __init__(self, left, ts, values):
        self.left, self.top = left, PANEL_TOP
        self.tlo, self.thi = math.log2(min(ts)), math.log2(max(ts))
        lo, hi = min(values), max(values)
        steps = [m * 10.0 ** e for e in range(-6, 12) for m in (1, 2, 5)]
        self.ylo = math.log10(max(s for s in steps if s <= lo))
        self.yhi = math.log10(min(s for s in steps if s >= hi))

    def x(self, t):
        return self.left + (math.log2(t) - self.tlo) / (self.thi - self.tlo) * PANEL_W

    def y(self, v):
        return self.top + PANEL_H - (math.log10(v) - self.ylo) / (self.yhi - self.ylo) * PANEL_H


def draw_axes(out, p, ts, title, unit):
    bottom, right = p.top + PANEL_H, p.left + PANEL_W
    out.append(f'<text x="{num(p.left + PANEL_W / 2)}" y="{p.top - 14}" text-anchor="middle" font-size="14" '
               f'font-weight="bold">{esc(title)}</text>')
    for t in ts:
        px = p.x(t)
        out.append(f'<line x1="{num(px)}" y1="{p.top}" x2="{num(px)}" y2="{bottom}" stroke="#e8e8e8"/>')
        out.append(f'<line x1="{num(px)}" y1="{bottom}" x2="{num(px)}" y2="{bottom + 5}" stroke="#444444"/>')
        out.append(f'<text class="x-tick" x="{num(px)}" y="{bottom + 19}" text-anchor="middle">{t}</text>')
    for v in y_ticks(10 ** p.ylo, 10 ** p.yhi):
        py = p.y(v)
        out.append(f'<line x1="{p.left}" y1="{num(py)}" x2="{right}" y2="{num(py)}" stroke="#e8e8e8"/>')
        out.append(f'<line x1="{p.left - 5}" y1="{num(py)}" x2="{p.left}" y2="{num(py)}" stroke="#444444"/>')
        out.append(f'<text class="y-tick" x="{p.left - 8}" y="{num(py)}" text-anchor="end" dy="0.35em">'
                   f'{tick_label(v)}</text>')
    out.append(f'<rect x="{p.left}" y="{p.top}" width="{PANEL_W}" height="{PANEL_H}" fill="none" stroke="#444444"/>')
    out.append(f'<text x="{num(p.left + PANEL_W / 2)}" y="{bottom + 40}" text-anchor="middle">'
               f'sequence length T (log scale)</text>')
    my = p.top + PANEL_H / 2
    out.append(f'<text x="{p.left - 58}" y="{num(my)}" text-anchor="middle" '
               f'transform="rotate(-90 {p.left - 58} {num(my)})">{esc(unit)} (log scale)</text>')


def draw_series(out, p, xy, colour, fitted):
    pts = " ".join(f"{num(p.x(t))},{num(p.y(v))}" for t, v in xy)
    out.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{pts}"/>')
    for t, v in xy:
        out.append(f'<circle cx="{num(p.x(t))}" cy="{num(p.y(v))}" r="3.5" fill="{colour}"/>')
    if fitted:  # the fitted line over the fitted range, dashed
        slope, icpt = fitted
        t0, t1 = FIT_FROM, max(t for t, _ in xy)
        ys = [math.exp(icpt + slope * math.log(t)) for t in (t0, t1)]
        out.append(f'<line x1="{num(p.x(t0))}" y1="{num(p.y(ys[0]))}" x2="{num(p.x(t1))}" y2="{num(p.y(ys[1]))}" '
                   f'stroke="{colour}" stroke-width="1.5" stroke-dasharray="6 4" opacity="0.8"/>')


def draw_legend(out, p, entries):
    """entries: (colour, label, dashed); a box in the panel's top left corner."""
    x, y, line_h = p.left + 10, p.top + 10, 18
    w = 14 + 34 + 7 * max(len(label) for _, label, _ in entries)
    out.append(f'<rect x="{x}" y="{y}" width="{w}" height="{line_h * len(entries) + 8}" fill="#ffffff" '
               f'fill-opacity="0.9" stroke="#cccccc"/>')
    for i, (colour, label, dashed) in enumerate(entries):
        ly = y + 4 + line_h * i + line_h / 2
        dash = ' stroke-dasharray="6 4"' if dashed else ""
        out.append(f'<line x1="{x + 8}" y1="{num(ly)}" x2="{x + 36}" y2="{num(ly)}" stroke="{colour}" '
                   f'stroke-width="2"{dash}/>')
        out.append(f'<text x="{x + 42}" y="{num(ly)}" dy="0.35em">{esc(label)}</text>')


def chart_svg(points, threads, variants):
    ts = sorted({p["T"] for p in points})
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
           f'viewBox="0 0 {WIDTH} {HEIGHT}" font-family="DejaVu Sans, Helvetica, Arial, sans-serif" font-size="12" '
           f'fill="#222222">',
           '<rect width="100%" height="100%" fill="#ffffff"/>',
           f'<text x="{WIDTH / 2}" y="26" text-anchor="middle" font-size="16" font-weight="bold">The cost of '
           f'attention: one forward + backward, batch 1, d_model 64, 4 heads, {threads} threads</text>']
    panels = [("ms", "time (median)", "milliseconds"), ("peak_bytes", "peak tensor memory", "MiB")]
    for left, (key, title, unit) in zip(PANEL_LEFT, panels):
        data = {v: series(points, v, key) for v in variants}
        p = Panel(left, ts, [y for xy in data.values() for _, y in xy])
        draw_axes(out, p, ts, title, unit)
        legend = []
        for v in variants:
            fitted = fit(data[v])
            draw_series(out, p, data[v], COLOURS[v], fitted)
            slope = f"slope {fitted[0]:.2f}" if fitted else "slope n/a"
            legend.append((COLOURS[v], f"{LABELS[v]} ({slope})", False))
        legend.append(("#777777", f"least-squares fit over T >= {FIT_FROM}", True))
        draw_legend(out, p, legend)
    out.append("</svg>")
    return "\n".join(out) + "\n"


def write_chart(points, threads, variants, out_dir):
    path = os.path.join(out_dir, "attention_cost.svg")
    svg = chart_svg(points, threads, variants)
    ElementTree.fromstring(svg)  # a malformed chart fails here, not in a reader's browser
    with open(path, "w") as f:
        f.write(svg)
    return path


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bench", default=default_bench(), help="the bench_attention binary (built when missing)")
    ap.add_argument("--out", default=os.path.join(ROOT, "out", "repro", "attention"))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--max-t", type=int, default=4096, help="largest T (powers of two from 64)")
    ap.add_argument("--variants", default="kernel,composite", help="of kernel, composite, local, linear")
    args = ap.parse_args()
    variants = args.variants.split(",")
    if args.threads < 1 or args.max_t < 64:
        ap.error("--threads must be >= 1 and --max-t >= 64")
    if not variants or any(v not in LABELS for v in variants):
        ap.error(f"--variants: each of {', '.join(LABELS)}")
    os.makedirs(args.out, exist_ok=True)
    bench = ensure_bench(args.bench)

    print("the cost of attention (the quadratic claim):")
    points, slopes, checks = run_bench(bench, args.threads, args.max_t, variants, args.out)
    if variants == ["kernel", "composite"]:
        print_tables(points, slopes, checks, args.max_t)
    else:
        print_variant_tables(points, slopes, variants)
    # The chart fits its own lines; they must be the bench's, or one of the two fits is wrong.
    for v in variants:
        mine = fit(series(points, v, "ms"))
        theirs = slopes.get(v, {}).get("time")
        if mine and theirs is not None and abs(mine[0] - theirs) > 1e-3:
            sys.exit(f"slope mismatch for {v}: the chart's fit {mine[0]:.4f}, the bench's {theirs:.4f}")
    path = write_chart(points, args.threads, variants, args.out)
    print(f"\nchart: {path}")
    print(f"bench output: {os.path.join(args.out, 'bench_attention.jsonl')}")
    common.print_commands()
    return 0


if __name__ == "__main__":
    sys.exit(main())
