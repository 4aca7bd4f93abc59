#!/usr/bin/python3
"""PyTorch reference for `dagrad train` (no flags): the batch-normalized 784-300-100-10 network
on Fashion-MNIST, Nesterov SGD, 10 epochs of batch 32, the first 5,000 training images held out
for validation. Same data, model, initializers, optimizer and schedule as dagrad's default run,
so the two can be timed side by side as whole processes.

Run with Debian's interpreter (python3-torch is a Debian package): /usr/bin/python3.
"""
import argparse
import gzip
import math
import os
import sys
import time

import numpy as np
import torch
from torch import nn

DATA_DIR = "/usr/share/datasets/fashion-mnist"
N_VALID = 5000
# Standard deviation of a standard normal truncated to [-2, 2]: Keras divides by it so that the
# truncated draw keeps the variance the initializer asks for.
TRUNC_STD = 0.87962566103423978


def read_idx(path):
    """Array of an IDX file (plain or gzip): big-endian magic 0x0000TTNN, NN dims, then uint8 data."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        raw = f.read()
    if raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise ValueError(f"{path}: not an unsigned-byte IDX file (magic {raw[:4].hex()})")
    ndim = raw[3]
    dims = tuple(int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim))
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != math.prod(dims):
        raise ValueError(f"{path}: {data.size} bytes of data for dims {dims}")
    return data.reshape(dims)


def find(data_dir, stem):
    for name in (stem + ".gz", stem):
        path = os.path.join(data_dir, name)
        if os.path.exists(path):
            return path
    raise FileNotFoundError(f"{stem}(.gz) not in {data_dir}")


def load(data_dir):
    x_full = read_idx(find(data_dir, "train-images-idx3-ubyte"))
    y_full = read_idx(find(data_dir, "train-labels-idx1-ubyte"))
    x_test = read_idx(find(data_dir, "t10k-images-idx3-ubyte"))
    y_test = read_idx(find(data_dir, "t10k-labels-idx1-ubyte"))

    def images(a):
        return torch.from_numpy(a.astype(np.float32) / np.float32(255.0))

    def labels(a):
        return torch.from_numpy(a.astype(np.int64))

    return (images(x_full[N_VALID:]), labels(y_full[N_VALID:]),
            images(x_full[:N_VALID]), labels(y_full[:N_VALID]),
            images(x_test), labels(y_test))


def keras_batchnorm(features):
    # Keras: epsilon=1e-3, momentum=0.99 (moving = 0.99*moving + 0.01*batch); PyTorch's momentum
    # is the weight of the new batch, so 0.01.
    return nn.BatchNorm1d(features, eps=1e-3, momentum=0.01)


def he_normal_(weight):
    # Keras he_normal: truncated normal at 2 stddev, stddev = sqrt(2/fan_in)/0.8796...
    # PyTorch's Linear weight is (out, in), so fan_in is size(1).
    std = math.sqrt(2.0 / weight.size(1)) / TRUNC_STD
    nn.init.trunc_normal_(weight, mean=0.0, std=std, a=-2.0 * std, b=2.0 * std)


def init_like_keras(model):
    """The chapter's initializers on a Sequential of Linear layers: he_normal kernels for the
    hidden ones, glorot_uniform (Keras Dense's default) for the last, zero biases."""
    linears = [m for m in model if isinstance(m, nn.Linear)]
    for layer in linears[:-1]:
        he_normal_(layer.weight)
        nn.init.zeros_(layer.bias)
    nn.init.xavier_uniform_(linears[-1].weight)
    nn.init.zeros_(linears[-1].bias)
    return model


def make_model():
    model = nn.Sequential(
        nn.Flatten(),
        keras_batchnorm(784),
        nn.Linear(784, 300), nn.ELU(),
        keras_batchnorm(300),
        nn.Linear(300, 100), nn.ELU(),
        keras_batchnorm(100),
        nn.Linear(100, 10),  # softmax is in the loss (CrossEntropyLoss on logits)
    )
    return init_like_keras(model)


@torch.no_grad()
def evaluate(model, loss_fn, x, y, batch_size):
    model.eval()
    loss_sum, correct = 0.0, 0
    for i in range(0, x.shape[0], batch_size):
        xb, yb = x[i:i + batch_size], y[i:i + batch_size]
        logits = model(xb)
        loss_sum += loss_fn(logits, yb).item() * xb.shape[0]
        correct += (logits.argmax(1) == yb).sum().item()
    return loss_sum / x.shape[0], correct / x.shape[0]


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--threads", type=int, default=int(os.environ.get("TORCH_THREADS", "1")),
                   help="torch.set_num_threads (default: $TORCH_THREADS, else 1)")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=0.01)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--data", default=DATA_DIR)
    p.add_argument("--verbose", type=int, default=1, help="0: only the test figures; 1: one line per epoch")
    args = p.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    gen = torch.Generator().manual_seed(args.seed)

    x_train, y_train, x_valid, y_valid, x_test, y_test = load(args.data)
    model = make_model()
    loss_fn = nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9, nesterov=True)
    n = x_train.shape[0]
    print(f"Train on {n} samples, validate on {x_valid.shape[0]}, test on {x_test.shape[0]}; "
          f"torch {torch.__version__}, {torch.get_num_threads()} thread(s)")

    for epoch in range(args.epochs):
        start = time.perf_counter()
        model.train()
        perm = torch.randperm(n, generator=gen)
        loss_sum = torch.zeros((), dtype=torch.float64)
        correct = torch.zeros((), dtype=torch.int64)
        for i in range(0, n, args.batch_size):  # the last, partial batch is kept, as in Keras
            idx = perm[i:i + args.batch_size]
            xb, yb = x_train[idx], y_train[idx]
            logits = model(xb)
            loss = loss_fn(logits, yb)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            with torch.no_grad():  # sample-weighted running mean, as Keras's epoch figures
                loss_sum += loss.detach().double() * xb.shape[0]
                correct += (logits.argmax(1) == yb).sum()
        val_loss, val_acc = evaluate(model, loss_fn, x_valid, y_valid, 256)
        if args.verbose:
            print(f"Epoch {epoch + 1}/{args.epochs} - {time.perf_counter() - start:.1f}s - "
                  f"loss: {loss_sum.item() / n:.4f} - accuracy: {correct.item() / n:.4f} - "
                  f"val_loss: {val_loss:.4f} - val_accuracy: {val_acc:.4f}", flush=True)

    test_loss, test_acc = evaluate(model, loss_fn, x_test, y_test, 256)
    print(f"test loss: {test_loss:.4f}\ntest accuracy: {test_acc:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
