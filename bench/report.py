#!/usr/bin/env python3
"""Report of a bench/run.sh output directory: table, combined JSON, plots.

    bench/report.py OUT [--json FILE] [--no-plots] [--markdown]

Reads OUT/*.jsonl (one JSON object per line, written by the benchmark steps),
OUT/machine.txt and the percentile curves OUT/*.dat of rt_bench; prints the
report table with ratios against the raw-socket floor and QuickFIX, checks
the targets, writes one JSON document (--json) and, when gnuplot is
installed, PNG latency-percentile plots into OUT. Python 3 standard library
only.
"""
import argparse
import glob
import json
import os
import shutil
import subprocess
import sys

PCTS = ["p50", "p90", "p99", "p99.9", "max"]
RT_ORDER = ["floor", "ringfix-batch", "ringfix-none", "ringfix-full", "qf-mem", "qf-file"]
TARGETS = {"p50_vs_floor": 1.3, "p99_vs_floor": 2.0, "qf_over_ringfix": 8.0,
           "tput_over_qf": 10.0}


def load(out):
    steps = {}
    for path in sorted(glob.glob(os.path.join(out, "*.jsonl"))):
        name = os.path.basename(path)[:-len(".jsonl")]
        rows = []
        with open(path) as f:
            for line in f:
                line = line.strip()
                if line.startswith("{"):
                    try:
                        rows.append(json.loads(line))
                    except ValueError:
                        print(f"report: {path}: a line is not JSON, skipped", file=sys.stderr)
        steps[name] = rows
    return steps


def fmt(v):
    if v is None:
        return "-"
    if v >= 1e6:
        return f"{v / 1e6:.2f} M"
    if v >= 1e4:
        return f"{v / 1e3:.0f} k"
    if v >= 100:
        return f"{v:.0f}"
    return f"{v:.1f}"


def rng(t):
    """[median, min, max] -> 'med [min-max]'"""
    if not t:
        return "-"
    return f"{fmt(t[0])} [{fmt(t[1])}-{fmt(t[2])}]"


def ratio(a, b):
    if a is None or b is None or b == 0:
        return None
    return a / b


def table(title, header, rows):
    print()
    print(title)
    widths = [max(len(str(r[i])) for r in [header] + rows) for i in range(len(header))]
    line = lambda r: "  " + "  ".join(str(c).ljust(w) for c, w in zip(r, widths))
    print(line(header))
    print("  " + "  ".join("-" * w for w in widths))
    for r in rows:
        print(line(r))


def rt_index(steps):
    """{(label, mode, metric): row} over every rt_bench step."""
    idx = {}
    for rows in steps.values():
        for r in rows:
            if r.get("bench") == "rt":
                idx[(r["label"], r["mode"], r["metric"])] = r
    return idx


def rt_tables(idx, summary):
    labels = [l for l in RT_ORDER if any(k[0] == l for k in idx)]
    labels += sorted({k[0] for k in idx} - set(labels))
    if not labels:
        return
    floor = idx.get(("floor", "closed", "rtt"))
    ref = idx.get(("ringfix-batch", "closed", "rtt"))
    rows = []
    for l in labels:
        r = idx.get((l, "closed", "rtt"))
        if not r:
            continue
        f50 = ratio(r["p50"][0], floor["p50"][0]) if floor else None
        f99 = ratio(r["p99"][0], floor["p99"][0]) if floor else None
        q50 = ratio(r["p50"][0], ref["p50"][0]) if ref and l.startswith("qf") else None
        q99 = ratio(r["p99"][0], ref["p99"][0]) if ref and l.startswith("qf") else None
        rows.append([l] + [rng(r[p]) for p in PCTS] +
                    [f"{f50:.2f}x / {f99:.2f}x" if f50 else "-",
                     f"{q50:.1f}x / {q99:.1f}x" if q50 else "-"])
        summary.setdefault("round_trip", {})[l] = {p: r[p] for p in PCTS}
        if f50:
            summary["round_trip"][l]["vs_floor_p50_p99"] = [round(f50, 3), round(f99, 3)]
        if q50:
            summary["round_trip"][l]["qf_over_ringfix_p50_p99"] = [round(q50, 2), round(q99, 2)]
    table("1. Order round trip, closed loop (us, median [min-max] over runs)",
          ["path"] + PCTS + ["vs floor p50/p99", "vs ringfix-batch p50/p99"], rows)

    rows = []
    for l in labels:
        o, i = idx.get((l, "closed", "out_leg")), idx.get((l, "closed", "in_leg"))
        e = idx.get((l, "closed", "in_engine"))
        if o and i:
            rows.append([l, rng(o["p50"]), rng(o["p99"]), rng(i["p50"]), rng(i["p99"]),
                         rng(e["p50"]) if e else "-", rng(e["p99"]) if e else "-"])
    table("   one-way legs, closed loop (us): out = strategy -> venue read, in = venue write -> "
          "strategy;\n   in-engine = the part of 'in' from the shard's socket read on",
          ["path", "out p50", "out p99", "in p50", "in p99", "in-engine p50", "in-engine p99"],
          rows)

    rows = []
    for l in labels:
        r = idx.get((l, "rate", "rtt"))
        if r:
            rows.append([l] + [rng(r[p]) for p in PCTS])
    table("   fixed rate, latency from the intended send time (us)", ["path"] + PCTS, rows)

    rows = []
    qf = idx.get(("qf-mem", "stream", "delivered")) or idx.get(("qf-file", "stream", "delivered"))
    for l in labels:
        r = idx.get((l, "stream", "delivered"))
        if not r:
            continue
        x = ratio(r["msgs_per_s"][0], qf["msgs_per_s"][0]) if qf and not l.startswith("qf") \
            else None
        rows.append([l, rng(r["msgs_per_s"]), rng(r["p50"]), rng(r["p99"]), rng(r["max"]),
                     f"{x:.2f}x" if x else "-"])
        summary.setdefault("throughput", {})[l] = {"msgs_per_s": r["msgs_per_s"],
                                                   "p50": r["p50"], "p99": r["p99"]}
        if x:
            summary["throughput"][l]["over_qf_mem"] = round(x, 2)
    table("2. Throughput: venue streams ExecutionReports; delivered latency (us)",
          ["path", "msgs/s", "p50", "p99", "max", "vs QuickFIX MemoryStore"], rows)

    checks = []
    if floor and ref:
        checks.append(("round trip p50 <= 1.3x floor", ratio(ref["p50"][0], floor["p50"][0]),
                       TARGETS["p50_vs_floor"], False))
        checks.append(("round trip p99 <= 2x floor", ratio(ref["p99"][0], floor["p99"][0]),
                       TARGETS["p99_vs_floor"], False))
    qfr = idx.get(("qf-mem", "closed", "rtt"))
    if qfr and ref:
        checks.append(("QuickFIX p50 >= 8x ringfix", ratio(qfr["p50"][0], ref["p50"][0]),
                       TARGETS["qf_over_ringfix"], True))
        checks.append(("QuickFIX p99 >= 8x ringfix", ratio(qfr["p99"][0], ref["p99"][0]),
                       TARGETS["qf_over_ringfix"], True))
    rs = idx.get(("ringfix-batch", "stream", "delivered"))
    if qf and rs:
        checks.append(("throughput >= 10x QuickFIX", ratio(rs["msgs_per_s"][0],
                                                           qf["msgs_per_s"][0]),
                       TARGETS["tput_over_qf"], True))
    if checks:
        print()
        print("   targets (ringfix = store durability batch):")
        for name, v, t, higher in checks:
            ok = v is not None and (v >= t if higher else v <= t)
            print(f"     {name:32s} {v:6.2f}x  {'met' if ok else 'MISSED'}")
            summary.setdefault("targets", {})[name] = {"value": round(v, 3), "met": ok}


def layout_lines(idx, summary):
    """Core layout of the rt_bench steps, as each step printed it (one line
    per distinct layout, naming the paths that ran in it)."""
    seen = {}
    for (label, _, _), r in idx.items():
        text = r.get("layout_text")
        if not text:
            # Written before --layout: the threads layout, described by its fields.
            text = (f"threads: CPU {r['app_cpu']} venue and strategy threads ({r['wait']} "
                    f"wait); CPU {r['engine_cpu']} the engine (ringfix shard, QuickFIX's "
                    f"socket thread or the floor client)")
        seen.setdefault(text, set()).add(label)
        summary.setdefault("layout", {})[label] = text
    order = {l: i for i, l in enumerate(RT_ORDER)}
    for text, labels in seen.items():
        names = ", ".join(sorted(labels, key=lambda l: (order.get(l, len(order)), l)))
        print(f"  core layout ({names}): {text}")


def pick(d, key):
    v = d.get(key)
    if v is None:
        return None
    return [v, d.get(key + "_min", v), d.get(key + "_max", v)]


def micro_tables(steps, summary):
    rows = []
    c = (steps.get("codec") or [{}])[-1]
    for what, k in [("parse ExecutionReport", "parse_ns_%s_execution_report"),
                    ("serialize ExecutionReport", "serialize_ns_%s_execution_report"),
                    ("parse MarketData x10", "parse_ns_%s_market_data_incremental_refresh_10")]:
        a, b = pick(c, k % "ringfix"), pick(c, k % "quickfix")
        if a:
            rows.append([f"codec: {what} (ns)", rng(a), rng(b) if b else "-",
                         f"{b[0] / a[0]:.1f}x" if b else "-"])
    w = pick(c, "wrap_ns_ringfix_execution_report")
    q = pick(c, "serialize_ns_quickfix_execution_report")
    if w:
        rows.append(["codec: shard outbound wrap, ER (ns)", rng(w), rng(q) if q else "-",
                     f"{q[0] / w[0]:.1f}x" if q else "-"])
    v = (steps.get("validate") or [{}])[-1]
    for what, k in [("ExecutionReport", "execution_report"),
                    ("MarketData x10", "market_data_incremental_refresh_10")]:
        a, b = pick(v, "validate_ns_ringfix_" + k), pick(v, "validate_ns_quickfix_" + k)
        over = v.get("validate_over_parse_ringfix_" + k)
        if a:
            rows.append([f"validate: {what} (ns; {over:.2f}x our parse)" if over else
                         f"validate: {what} (ns)", rng(a),
                         (rng(b) + " DataDictionary::validate") if b else "-",
                         f"{b[0] / a[0]:.1f}x" if b else "-"])
    s = (steps.get("store") or [{}])[-1]
    q = pick(s, "qf_set_msgs_per_s")
    for mode in ["batch", "none", "full"]:
        a = pick(s, f"write_{mode}_b256_msgs_per_s")
        if a:
            rows.append([f"store: write {mode}, 256-msg batches (msg/s)", rng(a),
                         (rng(q) + " FileStore::set") if q else "-",
                         f"{a[0] / q[0]:.1f}x" if q else "-"])
    a, q = pick(s, "read_msgs_per_s"), pick(s, "qf_get_msgs_per_s")
    if a:
        rows.append(["store: resend read (msg/s)", rng(a),
                     (rng(q) + " FileStore::get") if q else "-",
                     f"{a[0] / q[0]:.1f}x" if q else "-"])
    r = (steps.get("ring") or [{}])[-1]
    a, f = pick(r, "ring_rtt_p50_ns"), pick(r, "floor_rtt_p50_ns")
    if a:
        rows.append(["ring: round trip 64 B p50 (ns)", rng(a),
                     (rng(f) + " cache-line floor") if f else "-",
                     f"{a[0] / f[0]:.2f}x floor" if f else "-"])
    a = pick(r, "tput_128B_mrec_s")
    if a:
        rows.append(["ring: throughput 128 B (M rec/s)", rng(a), "-", "-"])
    if rows:
        table("5. Codec, store and ring (median [min-max] over runs)",
              ["benchmark", "ringfix", "reference", "ratio"], rows)
        summary["micro"] = [dict(zip(["benchmark", "ringfix", "reference", "ratio"], r))
                            for r in rows]


def spread(xs):
    """Per-run values -> [median, min, max] (None for no values)."""
    if not xs:
        return None
    xs = sorted(xs)
    return [xs[len(xs) // 2], xs[0], xs[-1]]


def secs(t):
    return f"{t[0]:.3f} [{t[1]:.3f}-{t[2]:.3f}]" if t else "-"


def sessions_table(steps, summary):
    rows = []
    for r in steps.get("sessions") or []:
        for engine in ("ringfix", "quickfix"):
            e = r.get(engine)
            if not e:
                continue
            n = e.get("sessions", 0)
            on = e.get("logged_on", 0)
            ok = on == n and n > 0
            rows.append([engine, n, f"{on} (still {e.get('still_on', 0)})",
                         secs(spread(e.get("logon_s"))) if ok else "-",
                         rng(spread(e.get("rss_mb"))) if ok else "-",
                         f"{e.get('rss_mb_per_1000', 0):.1f}" if ok else "-",
                         f"{e.get('pss_mb_per_1000', 0):.1f}" if ok else "-",
                         rng(spread(e.get("idle_cpu_pct"))) if ok else "-"])
    if rows:
        hdr = ["engine", "sessions", "logged on", "logon all (s)", "RSS (MB)",
               "RSS/1000", "PSS/1000", "idle CPU %"]
        table("3. Sessions logged on with heartbeats (median [min-max] over runs)", hdr, rows)
        summary["sessions"] = [dict(zip(hdr, r)) for r in rows]


def resend_table(steps, summary):
    rows = []
    for r in steps.get("resend") or []:
        res = r.get("results") or {}
        qf = spread(res.get("quickfix FileStore", {}).get("secs"))
        for name, v in res.items():
            t = spread(v.get("secs"))
            vs = f"{qf[0] / t[0]:.1f}x" if qf and t and not name.startswith("quickfix") else "-"
            rows.append([name, r.get("messages", "-"), secs(t), fmt(v.get("msgs_per_s")), vs])
    if rows:
        hdr = ["path", "messages", "until the last (s)", "msg/s", "QuickFIX FileStore / this"]
        table("4. Resend: the peer asks for every message (median [min-max] over runs)", hdr, rows)
        summary["resend"] = [dict(zip(hdr, r)) for r in rows]


def other_tables(steps, summary):
    known = {"codec", "validate", "store", "ring", "sessions", "resend"}
    for name, rows in steps.items():
        if name in known or name.startswith("rt-") or not rows:
            continue
        out = []
        for r in rows:
            for k, v in r.items():
                if isinstance(v, (int, float, str)) and not isinstance(v, bool):
                    out.append([k, v if not isinstance(v, float) else fmt(v)])
        table(f"{name} (as the step reports it)", ["field", "value"], out)
        summary[name] = rows


# Tic labels are gnuplot format strings: %% is a percent sign.
GP_HEAD = """set terminal png size 1000,560
set output '{png}'
set title '{title}'
set logscale x
set logscale y
set xlabel 'percentile'
set ylabel 'latency (us)'
set xtics ('50%%' 2, '90%%' 10, '99%%' 100, '99.9%%' 1000, '99.99%%' 10000, '99.999%%' 100000)
set grid
set key outside right top
"""


def plots(out, idx):
    gp = shutil.which("gnuplot")
    if not gp:
        print("\nplots: gnuplot not installed (apt-get install gnuplot-nox); skipped")
        return []
    made = []
    for mode, metric, title in [("closed", "rtt", "Order round trip, closed loop"),
                                ("rate", "rtt", "Order round trip, fixed rate (from intended send)"),
                                ("stream", "delivered", "ExecutionReport stream, delivered latency")]:
        series = []
        for l in RT_ORDER + sorted({k[0] for k in idx} - set(RT_ORDER)):
            dat = os.path.join(out, f"{l}-{mode}-{metric}.dat")
            if os.path.exists(dat) and (l, mode, metric) in idx:
                series.append((l, dat))
        if not series:
            continue
        png = os.path.join(out, f"{mode}-{metric}.png")
        script = GP_HEAD.format(png=png, title=title) + "plot " + ", ".join(
            f"'{d}' using 2:3 with linespoints title '{l}'" for l, d in series) + "\n"
        with open(os.path.join(out, f"{mode}-{metric}.gp"), "w") as f:
            f.write(script)
        r = subprocess.run([gp], input=script, text=True, capture_output=True)
        if r.returncode == 0:
            made.append(png)
        else:
            print(f"plots: gnuplot failed for {png}: {r.stderr.strip()}", file=sys.stderr)
    return made


def markdown(idx, summary, machine):
    """The README table: round trip, legs, fixed rate, throughput, components."""
    def us(t):
        if t[0] >= 10000:
            return f"{t[0] / 1e3:.1f} ms [{t[1] / 1e3:.1f}–{t[2] / 1e3:.1f}]"
        f = lambda v: f"{v:.0f}" if v >= 100 else f"{v:.1f}"
        return f"{f(t[0])} µs [{f(t[1])}–{f(t[2])}]"
    out = ["| measurement | path | p50 | p99 | ratio |", "|---|---|---|---|---|"]
    floor = idx.get(("floor", "closed", "rtt"))
    ref = idx.get(("ringfix-batch", "closed", "rtt"))
    for l in RT_ORDER:
        r = idx.get((l, "closed", "rtt"))
        if not r:
            continue
        if l.startswith("qf") and ref:
            note = f"{r['p50'][0] / ref['p50'][0]:.2f}× / {r['p99'][0] / ref['p99'][0]:.2f}× ringfix"
        elif floor and l != "floor":
            note = f"{r['p50'][0] / floor['p50'][0]:.2f}× / {r['p99'][0] / floor['p99'][0]:.2f}× floor"
        else:
            note = ""
        out.append(f"| round trip, closed loop | {l} | {us(r['p50'])} | {us(r['p99'])} | {note} |")
    for l in ["floor", "ringfix-batch", "qf-mem"]:
        o, i = idx.get((l, "closed", "out_leg")), idx.get((l, "closed", "in_leg"))
        if o and i:
            out.append(f"| legs out / in, p50 | {l} | {us(o['p50'])} | {us(i['p50'])} (in) | |")
    e = idx.get(("ringfix-batch", "closed", "in_engine"))
    if e:
        out.append(f"| in leg from the shard's read on | ringfix-batch | {us(e['p50'])} | "
                   f"{us(e['p99'])} | |")
    for l in RT_ORDER:
        r = idx.get((l, "rate", "rtt"))
        if r:
            out.append(f"| fixed rate, from intended send | {l} | {us(r['p50'])} | {us(r['p99'])} | |")
    qf = idx.get(("qf-mem", "stream", "delivered"))
    for l in RT_ORDER:
        r = idx.get((l, "stream", "delivered"))
        if r:
            t = r["msgs_per_s"]
            x = f"{t[0] / qf['msgs_per_s'][0]:.1f}× qf-mem" if qf and l != "qf-mem" else ""
            out.append(f"| ExecutionReport stream, msg/s | {l} | {fmt(t[0])} [{fmt(t[1])}–"
                       f"{fmt(t[2])}] | delivered p99 {us(r['p99'])} | {x} |")
    for m in summary.get("micro", []):
        out.append(f"| {m['benchmark']} | ringfix | {m['ringfix']} | ref {m['reference']} | "
                   f"{m['ratio']} |")
    print("\n".join(out))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out")
    ap.add_argument("--json")
    ap.add_argument("--no-plots", action="store_true")
    ap.add_argument("--markdown", action="store_true",
                    help="print only the summary as a Markdown table (for README.md)")
    a = ap.parse_args()
    steps = load(a.out)
    machine = {}
    mpath = os.path.join(a.out, "machine.txt")
    if os.path.exists(mpath):
        with open(mpath) as f:
            for line in f:
                k, _, v = line.partition(":")
                k = k.strip()
                if k.startswith("rerun"):
                    machine.setdefault("reruns", []).append(f"{k[len('rerun of '):]}: {v.strip()}")
                else:
                    machine[k] = v.strip()
    summary = {}
    idx = rt_index(steps)
    if a.markdown:
        with open(os.devnull, "w") as null:
            stdout, sys.stdout = sys.stdout, null
            micro_tables(steps, summary)
            sys.stdout = stdout
        markdown(idx, summary, machine)
        return
    print("\nringfix benchmark report")
    for k, v in machine.items():
        for one in (v if isinstance(v, list) else [v]):
            print(f"  {k}: {one}")
    layout_lines(idx, summary)
    rt_tables(idx, summary)
    sessions_table(steps, summary)
    resend_table(steps, summary)
    micro_tables(steps, summary)
    other_tables(steps, summary)
    skipped = os.path.join(a.out, "skipped.txt")
    if os.path.exists(skipped):
        print()
        with open(skipped) as f:
            print(f.read().rstrip())
    made = [] if a.no_plots else plots(a.out, idx)
    if made:
        print("\nplots: " + " ".join(made))
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"machine": machine, "summary": summary, "steps": steps}, f, indent=1)
        print(f"json: {a.json}")


if __name__ == "__main__":
    main()
