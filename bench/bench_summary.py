#!/usr/bin/python3
"""Summarizes a bench/run_bench.sh folder: per figure the medians of dagrad and PyTorch over the
pairs and the median of the pair-by-pair ratios, dagrad's fraction of its own GEMM-only
roofline, peak resident memory, the fairness checks and the selu build times, as Markdown.

usage: bench_summary.py OUT_DIR

The folder holds, per pair i, `{dagrad,torch}_{job}_{i}.jsonl` (the programs' JSON lines) and
`.rss` files (peak resident kilobytes from /usr/bin/time -f %M), jobs train_MODEL_BATCH, latency
and (dagrad only) build.
"""
import glob
import json
import math
import os
import re
import statistics
import sys

FILE = re.compile(r"(dagrad|torch)_(.+)_(\d+)\.jsonl$")


def load(out):
    """{(impl, job, pair): [records]} and {(impl, job, pair): peak RSS in MiB}."""
    records, rss = {}, {}
    for path in glob.glob(os.path.join(out, "*.jsonl")):
        m = FILE.search(os.path.basename(path))
        if not m:
            continue
        key = (m.group(1), m.group(2), int(m.group(3)))
        with open(path) as f:
            records[key] = [json.loads(line) for line in f if line.startswith("{")]
        rss_path = path[:-len(".jsonl")] + ".rss"
        if os.path.exists(rss_path):
            with open(rss_path) as f:
                lines = [l for l in f.read().split() if l.isdigit()]
            if lines:
                rss[key] = int(lines[-1]) / 1024.0
    return records, rss


def pick(recs, figure):
    return next((r for r in recs if r.get("figure") == figure), None)


def med(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def spread(values):
    values = [v for v in values if v is not None]
    return f"{min(values):.2f}-{max(values):.2f}" if values else "-"


def fmt(v, decimals=0):
    return "-" if v is None else f"{v:,.{decimals}f}"


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__.strip().split("\n\n")[1])
    out = sys.argv[1]
    records, rss = load(out)
    pairs = sorted({k[2] for k in records})
    jobs = sorted({k[1] for k in records if k[1].startswith("train_")},
                  key=lambda j: (j.split("_")[1] != "plain", int(j.split("_")[2])))
    lines = []
    say = lines.append

    say(f"Pairs: {len(pairs)} (runs in turn, dagrad then PyTorch, per figure). Ratios are medians of "
        "the pair-by-pair ratios (min-max over pairs); > 1 means dagrad is faster.")
    say("")
    say("| figure | dagrad | PyTorch | ratio dagrad/PyTorch | dagrad of its GEMM roofline | "
        "dagrad GEMM-only | peak RSS dagrad / PyTorch (MiB) |")
    say("|---|---|---|---|---|---|---|")
    checks = []
    pair_ratios = []
    for job in jobs:
        _, model, batch = job.split("_")
        d_sps, t_sps, ratios, fractions, roofs, d_rss, t_rss = [], [], [], [], [], [], []
        for i in pairs:
            d, t = records.get(("dagrad", job, i)), records.get(("torch", job, i))
            dt, tt = (pick(d, "train") if d else None), (pick(t, "train") if t else None)
            dg = pick(d, "gemm") if d else None
            if dt:
                d_sps.append(dt["samples_per_s"])
            if tt:
                t_sps.append(tt["samples_per_s"])
            if dt and tt:
                ratios.append(dt["samples_per_s"] / tt["samples_per_s"])
            if dg:
                fractions.append(dg.get("fraction_of_roofline"))
                roofs.append(dg["samples_per_s"])
            d_rss.append(rss.get(("dagrad", job, i)))
            t_rss.append(rss.get(("torch", job, i)))
        pair_ratios.append(f"- {model}, batch {batch}: dagrad/PyTorch per pair "
                           + ", ".join(f"{r:.2f}" for r in ratios))
        say(f"| training samples/s, {model}, batch {batch} | {fmt(med(d_sps))} | {fmt(med(t_sps))} | "
            f"**{fmt(med(ratios), 2)}** ({spread(ratios)}) | {fmt(med(fractions), 2)} | "
            f"{fmt(med(roofs))} | {fmt(med(d_rss))} / {fmt(med(t_rss))} |")
        first = pairs[0]
        d, t = records.get(("dagrad", job, first)), records.get(("torch", job, first))
        if d and t and pick(d, "train") and pick(t, "train"):
            dt, tt = pick(d, "train"), pick(t, "train")
            dg, tg = pick(d, "gemm"), pick(t, "gemm")
            same_data = dt["label_counts"] == tt["label_counts"]
            same_gemms = dg and tg and dg["mnk_ta_tb"] == tg["mnk_ta_tb"]
            # The cnn model's convolutions are not matrix products of the graph: no roofline.
            gemm_text = ("same GEMMs: " + ("yes" if same_gemms else "NO")
                         + (f" ({dg['gemms']})" if dg else "")) if dg or tg else "no GEMM roofline"
            layout = f"; PyTorch memory format {tt['memory_format']}" if "memory_format" in tt else ""
            checks.append(
                f"- {model}, batch {batch}, {dt['total_steps']} steps: loss {dt['initial_loss']:.3f} -> "
                f"{dt['final_loss']:.3f} (dagrad), {tt['initial_loss']:.3f} -> {tt['final_loss']:.3f} "
                f"(PyTorch); both decreased: {'yes' if dt['loss_decreased'] and tt['loss_decreased'] else 'NO'}; "
                f"same labels: {'yes' if same_data else 'NO'}; {gemm_text}{layout}")

    lat_d, lat_t, lat_r = [], [], []
    for i in pairs:
        d, t = records.get(("dagrad", "latency", i)), records.get(("torch", "latency", i))
        dl, tl = (pick(d, "latency") if d else None), (pick(t, "latency") if t else None)
        if dl:
            lat_d.append(dl["us"])
        if tl:
            lat_t.append(tl["us"])
        if dl and tl:
            lat_r.append(tl["us"] / dl["us"])
    if lat_d or lat_t:
        say(f"| inference latency, plain, batch 1 (us, lower is better; ratio PyTorch/dagrad) | "
            f"{fmt(med(lat_d), 1)} | {fmt(med(lat_t), 1)} | **{fmt(med(lat_r), 2)}** ({spread(lat_r)}) | | | |")

    settings = {}
    for (impl, _, _), recs in records.items():
        for r in recs:
            settings.setdefault(impl, (r.get("threads"), r.get("blas_core")))
    say("")
    for impl, (threads, core) in sorted(settings.items()):
        name = "dagrad: OpenBLAS threads" if impl == "dagrad" else "PyTorch: intra-op threads"
        say(f"- {name} {threads}, OpenBLAS core {core}")
    for c in checks:
        say(c)
    for r in pair_ratios:
        say(r)

    builds = {}
    for i in pairs:
        for r in records.get(("dagrad", "build", i), []):
            if r.get("figure") == "build":
                builds.setdefault(r["depth"], []).append(r)
    if builds:
        say("")
        say("selu training graph, dagrad (ms; medians over pairs of each run's median):")
        say("")
        say("| depth | nodes | build | differentiate | compile | total | per doubling (total; build, "
            "differentiate, compile) | init | first step |")
        say("|---|---|---|---|---|---|---|---|---|")
        prev = None
        for depth in sorted(builds):
            rs = builds[depth]
            row = {k: med([r[k] for r in rs]) for k in
                   ("build_ms", "differentiate_ms", "compile_ms", "total_ms", "init_ms", "first_step_ms")}
            growth = "-"
            if prev:
                doublings = math.log2(depth / prev[0])

                def ratio(k):
                    return (row[k] / prev[1][k]) ** (1 / doublings)

                growth = (f"{ratio('total_ms'):.2f} ({ratio('build_ms'):.2f}, {ratio('differentiate_ms'):.2f}, "
                          f"{ratio('compile_ms'):.2f})")
            say(f"| {depth} | {rs[0]['nodes']} | {row['build_ms']:.1f} | {row['differentiate_ms']:.1f} | "
                f"{row['compile_ms']:.1f} | {row['total_ms']:.1f} | {growth} | {row['init_ms']:.1f} | "
                f"{row['first_step_ms']:.1f} |")
            prev = (depth, row)
        say("")
        say("Per doubling of depth: 2.0 is linear. Build = layers, training graph and loss; "
            "differentiate = minimize (gradients and updates); compile = Session::compile of the step.")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
