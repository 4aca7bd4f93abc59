#!/usr/bin/python3
"""PyTorch side of the training step benchmark (bench/README.md): the same synthetic data, models,
initializers, optimizer, batch sizes, per-epoch shuffling and figures as bench/dagrad_bench.cpp,
printed as the same JSON lines.

Figures: training samples/s of the plain and bn models at each batch size (median of repeats),
the GEMM-only roofline of each training step (torch.mm of the step's products, timed alone), and
the batch-1 inference latency of the plain model (eval mode, torch.no_grad, softmax included).

Thread settings come from the environment (OMP_NUM_THREADS, OPENBLAS_NUM_THREADS) unless
--threads sets torch.set_num_threads. Run with Debian's interpreter: /usr/bin/python3.
"""
import argparse
import ctypes
import json
import math
import sys
import time

import numpy as np
import torch
from torch import nn

# The whole-job reference's Keras-like initializers and BatchNormalization (same folder).
from fashion_mnist_torch import TRUNC_STD, init_like_keras, keras_batchnorm

INPUTS, CLASSES = 784, 10
MASK = (1 << 64) - 1
GOLDEN = 0x9E3779B97F4A7C15


# ---- synthetic data: the generator of dagrad_bench.cpp, bit for bit ----------------------------

def mix(z):
    """splitmix64's output function over a uint64 array (wrapping arithmetic)."""
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def draws(seed, stream, count):
    """Draws 0..count-1 of `stream`: mix(base + (i + 1) * golden), base = mix(seed ^ stream * golden)."""
    with np.errstate(over="ignore"):
        base = mix(np.array([(seed ^ (stream * GOLDEN)) & MASK], dtype=np.uint64))[0]
        i = np.arange(1, count + 1, dtype=np.uint64)
        return mix(base + i * np.uint64(GOLDEN))


def make_data(n, seed):
    """n 28x28 inputs uniform in [0, 1) and labels argmax_c (x - 0.5) . W[:, c], W uniform in
    [-1, 1), the sum taken in float64 in pixel order as dagrad_bench does."""
    x = ((draws(seed, 1, n * INPUTS) >> np.uint64(40)).astype(np.float32) * np.float32(2.0**-24))
    x = x.reshape(n, INPUTS)
    w = (draws(seed, 2, INPUTS * CLASSES) >> np.uint64(11)).astype(np.float64) * 2.0**-53 * 2.0 - 1.0
    w = w.reshape(INPUTS, CLASSES)
    centered = x.astype(np.float64) - 0.5
    score = np.zeros((n, CLASSES))
    for j in range(INPUTS):  # column by column: the same order of additions as the C++ loop
        score += centered[:, j:j + 1] * w[j]
    y = score.argmax(axis=1)
    counts = np.bincount(y, minlength=CLASSES).tolist()
    return (torch.from_numpy(x.reshape(n, 28, 28)), torch.from_numpy(y.astype(np.int64)), counts)


# ---- models ------------------------------------------------------------------------------------

def make_model(kind):
    """The chapter's MLP; kind "bn" adds BatchNormalization (Keras's epsilon 1e-3, momentum 0.99)
    after Flatten and after each hidden layer's activation. Returns logits (the loss applies the
    softmax)."""
    bn = kind == "bn"
    layers = [nn.Flatten()]
    if bn:
        layers.append(keras_batchnorm(784))
    for fan_in, units in ((784, 300), (300, 100)):
        layers += [nn.Linear(fan_in, units), nn.ELU()]
        if bn:
            layers.append(keras_batchnorm(units))
    layers.append(nn.Linear(100, CLASSES))
    model = nn.Sequential(*layers)
    return init_like_keras(model)


def make_cnn(memory_format):
    """dagrad's cnn preset (nn/presets.cpp): Conv(32, 3x3 same, no bias)-BN-ReLU-MaxPool(2),
    Conv(64)-BN-ReLU-MaxPool(2), Flatten, Dropout(0.4), Dense(128, no bias)-BN-ReLU, Dropout(0.4),
    Dense(10) (logits), in
    PyTorch's NCHW layout (or channels_last storage). Truncated he_normal kernels with Keras's
    fan_in (kh * kw * in_channels), glorot_uniform output, BatchNorm eps 1e-3 momentum 0.01 (Keras
    0.99). PyTorch flattens (C, H, W) where dagrad flattens (H, W, C): a fixed permutation of the
    Dense kernel's rows, the same work."""
    model = nn.Sequential(
        nn.Unflatten(1, (1, 28)),
        nn.Conv2d(1, 32, 3, padding=1, bias=False),
        nn.BatchNorm2d(32, eps=1e-3, momentum=0.01), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1, bias=False),
        nn.BatchNorm2d(64, eps=1e-3, momentum=0.01), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Dropout(0.4),
        nn.Linear(64 * 7 * 7, 128, bias=False), keras_batchnorm(128), nn.ReLU(), nn.Dropout(0.4),
        nn.Linear(128, CLASSES),
    )
    with torch.no_grad():
        for m in model:
            if isinstance(m, (nn.Conv2d, nn.Linear)) and m is not model[-1]:
                fan_in = m.weight[0].numel()
                std = math.sqrt(2.0 / fan_in) / TRUNC_STD
                nn.init.trunc_normal_(m.weight, mean=0.0, std=std, a=-2.0 * std, b=2.0 * std)
        nn.init.xavier_uniform_(model[-1].weight)
        nn.init.zeros_(model[-1].bias)
    if memory_format == "channels_last":
        model = model.to(memory_format=torch.channels_last)
    return model


def step_gemms(kind, batch):
    """(m, n, k, transpose_a, transpose_b) of the products one training step needs, in the order
    and layout of dagrad's gradient graph: the forward x W of each Dense, then from the last Dense
    back its input gradient dy W^T and weight gradient x^T dy; the first Dense's input gradient
    only in the bn model (the first BatchNormalization's gamma and beta need it)."""
    sizes = [(784, 300), (300, 100), (100, CLASSES)]
    gemms = [(batch, n, k, 0, 0) for k, n in sizes]
    for layer, (k, n) in reversed(list(enumerate(sizes))):
        if layer > 0 or kind == "bn":
            gemms.append((batch, k, n, 0, 1))
        gemms.append((k, n, batch, 1, 0))
    return gemms


def blas_core():
    """The kernel set of the OpenBLAS that torch runs on (Debian's torch uses the system
    OpenBLAS), as dagrad_bench reports it; "unknown" when that is not OpenBLAS."""
    try:
        lib = ctypes.CDLL("libopenblas.so.0")
        lib.openblas_get_corename.restype = ctypes.c_char_p
        return lib.openblas_get_corename().decode()
    except (OSError, AttributeError):
        return "unknown"


# ---- figures -----------------------------------------------------------------------------------

def train(model, x, y, batch, steps, warmup, repeats, seed):
    """Trains with SGD(0.01, Nesterov momentum 0.9), reshuffled every epoch (the remainder of
    n / batch dropped); returns samples/s per timed repeat and every step's loss."""
    loss_fn = nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, nesterov=True)
    model.train()
    n = x.shape[0]
    per_epoch = n // batch
    gen = torch.Generator().manual_seed(seed)
    state = {"cursor": per_epoch, "xs": None, "ys": None}
    losses = []

    def run_steps(count):
        for _ in range(count):
            if state["cursor"] == per_epoch:
                perm = torch.randperm(n, generator=gen)
                state["xs"], state["ys"] = x[perm], y[perm]
                state["cursor"] = 0
            i = state["cursor"] * batch
            state["cursor"] += 1
            xb, yb = state["xs"][i:i + batch], state["ys"][i:i + batch]
            loss = loss_fn(model(xb), yb)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            losses.append(loss.detach())

    run_steps(warmup)
    runs = []
    for _ in range(repeats):
        start = time.perf_counter()
        run_steps(steps)
        runs.append(steps * batch / (time.perf_counter() - start))
    return runs, [float(v) for v in losses]


def time_gemms(gemms, steps, repeats):
    """Seconds per step of the products alone (torch.mm; transposed operands are transposed
    views, which reach BLAS as transpose flags), median of repeats."""
    operands = []
    for m, n_, k, ta, tb in gemms:
        a = torch.full((k, m) if ta else (m, k), 0.01)
        b = torch.full((n_, k) if tb else (k, n_), 0.02)
        operands.append((a.t() if ta else a, b.t() if tb else b, torch.empty(m, n_)))

    def one_step():
        for a, b, c in operands:
            torch.mm(a, b, out=c)

    for _ in range(20):
        one_step()
    per_step = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(steps):
            one_step()
        per_step.append((time.perf_counter() - start) / steps)
    return per_step


def latency(model, x1, runs):
    """Microseconds per batch-1 prediction (softmax probabilities), timed one by one."""
    model.eval()
    times = []
    with torch.no_grad():
        for _ in range(200):
            torch.softmax(model(x1), dim=1)
        for _ in range(runs):
            start = time.perf_counter_ns()
            torch.softmax(model(x1), dim=1)
            times.append((time.perf_counter_ns() - start) / 1e3)
    return times


def emit(record, json_out, threads, core):
    if json_out:
        print(json.dumps({**record, "threads": threads, "blas_core": core}), flush=True)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--only", default="train,gemm,latency",
                   help="figures, comma-separated: train, gemm, latency (build is dagrad's alone)")
    p.add_argument("--model", default="all", choices=["plain", "bn", "cnn", "all"],
                   help="all: plain and bn; cnn (no GEMM roofline) only when asked")
    p.add_argument("--memory-format", default="contiguous", choices=["contiguous", "channels_last"],
                   help="the cnn model's parameters' storage (torch.channels_last or NCHW)")
    p.add_argument("--batch", default="32,256", help="training batch sizes, comma-separated")
    p.add_argument("--steps", type=int, default=0, help="steps per timed repeat (default: one epoch)")
    p.add_argument("--warmup", type=int, default=-1, help="untimed steps first (default: one epoch)")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--samples", type=int, default=8192)
    p.add_argument("--threads", type=int, default=0, help="torch.set_num_threads (default: from OMP_NUM_THREADS)")
    p.add_argument("--latency-runs", type=int, default=2000)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--format", default="table", choices=["table", "json", "both"])
    args = p.parse_args()

    only = set(args.only.split(","))
    unknown = only - {"train", "gemm", "latency", "build"}
    if unknown:
        p.error(f"--only: unknown figures {sorted(unknown)}")
    models = ["plain", "bn"] if args.model == "all" else [args.model]
    batches = [int(b) for b in args.batch.split(",") if b]
    if any(b < 1 or b > args.samples for b in batches) or args.repeats < 1 or args.samples < 1:
        p.error("batches must lie in [1, --samples]; --repeats and --samples must be >= 1")
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    threads = torch.get_num_threads()
    core = blas_core()
    json_out = args.format != "table"
    table = sys.stderr if args.format == "both" else sys.stdout
    tabulate = args.format != "json"

    torch.manual_seed(args.seed)
    x, y, counts = make_data(args.samples, args.seed)
    if tabulate:
        print(f"torch_reference: {args.samples} synthetic samples, torch {torch.__version__}, "
              f"{threads} intra-op thread(s), OpenBLAS core {core}", file=table)

    if only & {"train", "gemm"}:
        if tabulate:
            print(f"training, median of {args.repeats} repeats\n"
                  "  model  batch    samples/s  gemm-only samples/s  of roofline  gemms  loss first -> last",
                  file=table)
        for kind in models:
            for batch in batches:
                per_epoch = args.samples // batch
                steps = args.steps if args.steps > 0 else per_epoch
                warmup = args.warmup if args.warmup >= 0 else per_epoch
                train_sps = gemm_sps = first = last = float("nan")
                common = {"impl": "torch", "model": kind, "batch": batch}
                if kind == "cnn":
                    common["memory_format"] = args.memory_format
                if "train" in only:
                    model = make_cnn(args.memory_format) if kind == "cnn" else make_model(kind)
                    runs, losses = train(model, x, y, batch, steps, warmup, args.repeats, args.seed)
                    train_sps = float(np.median(runs))
                    window = min(10, len(losses))
                    first = sum(losses[:window]) / window
                    last = sum(losses[-window:]) / window
                    emit({**common, "figure": "train", "samples_per_s": train_sps, "runs": runs,
                          "steps": steps, "warmup": warmup, "repeats": args.repeats,
                          "samples": args.samples, "total_steps": len(losses),
                          "initial_loss": first, "final_loss": last, "loss_decreased": last < first,
                          "label_counts": counts}, json_out, threads, core)
                gemms = step_gemms(kind, batch) if kind != "cnn" else []
                if "gemm" in only and kind != "cnn":
                    gemm_sps = batch / float(np.median(time_gemms(gemms, steps, args.repeats)))
                    flops = sum(2.0 * m * n_ * k for m, n_, k, _, _ in gemms)
                    record = {**common, "figure": "gemm", "samples_per_s": gemm_sps,
                              "gemms": len(gemms), "mnk_ta_tb": [v for g in gemms for v in g],
                              "gflops": flops * gemm_sps / batch * 1e-9}
                    if "train" in only:
                        record["fraction_of_roofline"] = train_sps / gemm_sps
                    emit(record, json_out, threads, core)
                if tabulate:
                    def cell(v, width, decimals):
                        return f"{v:{width}.{decimals}f}" if math.isfinite(v) else f"{'-':>{width}}"
                    losses_text = f"{first:.4f} -> {last:.4f}" if "train" in only else "-"
                    print(f"  {kind:<5}{cell(batch, 7, 0)}{cell(train_sps, 13, 0)}{cell(gemm_sps, 21, 0)}"
                          f"{cell(train_sps / gemm_sps, 13, 3)}{len(gemms):7d}  {losses_text}", file=table)

    if "latency" in only:
        model = make_model("plain")
        times = latency(model, x[:1].clone(), args.latency_runs)
        med = float(np.median(times))
        p10, p90 = (float(np.quantile(times, q, method="nearest")) for q in (0.1, 0.9))
        emit({"impl": "torch", "figure": "latency", "model": "plain", "batch": 1, "us": med,
              "us_p10": p10, "us_p90": p90, "runs": args.latency_runs}, json_out, threads, core)
        if tabulate:
            print(f"inference latency, plain model, batch 1: median {med:.1f} us (p10 {p10:.1f}, "
                  f"p90 {p90:.1f}, {args.latency_runs} runs)", file=table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
