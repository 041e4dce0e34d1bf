#!/usr/bin/python3
"""PyTorch peer of bench/ops.ts: the same ops, shapes, seed, warm-up and iteration counts.

Run by `npm run bench:ops` with Debian's PyTorch (/usr/bin/python3), which uses the same
libtorch 1.13.1 and the same libblas.so.3 as @adaseg/torch. Prints one JSON object on stdout.

  /usr/bin/python3 bench/ops_peer.py --iters 50 --warmup 10 --seed 0 [--threads N]
  /usr/bin/python3 bench/ops_peer.py --serve --seed 0 [--threads N]   # as ops.ts runs it
  /usr/bin/python3 bench/ops_peer.py --blas-info      # only OpenBLAS's core name and threads

Without --threads, PyTorch keeps its own default thread count. OPENBLAS_CORETYPE is whatever
the environment says (the caller decides).
"""
import argparse
import ctypes
import json
import os
import resource
import statistics
import sys
import time


def loaded_blas_files():
    """The BLAS/LAPACK files mapped in this process, symlinks resolved."""
    with open("/proc/self/maps") as maps:
        paths = {line.split()[-1] for line in maps if "blas" in line or "lapack" in line}
    return sorted(p for p in paths if p.startswith("/"))


def openblas_info():
    """The OpenBLAS that this process loads (libopenblas.so.0 is what libblas.so.3 wraps)."""
    try:
        lib = ctypes.CDLL("libopenblas.so.0")
        lib.openblas_get_corename.restype = ctypes.c_char_p
        lib.openblas_get_config.restype = ctypes.c_char_p
        return {
            "corename": lib.openblas_get_corename().decode(),
            "config": lib.openblas_get_config().decode().strip(),
            "threads": lib.openblas_get_num_threads(),
            "parallel": ["sequential", "pthreads", "openmp"][lib.openblas_get_parallel()],
            "loaded": loaded_blas_files(),
        }
    except (OSError, AttributeError, IndexError) as err:
        return {"error": str(err)}


def machine_busy_seconds():
    """CPU seconds the whole machine has spent busy (all CPUs), from /proc/stat."""
    with open("/proc/stat") as stat:
        ticks = [int(v) for v in stat.readline().split()[1:9]]
    return (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")


def own_cpu_seconds():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def time_block(fn, warmup, iters):
    """warmup untimed calls, then iters timed ones; with the machine's and this process's CPU use."""
    for _ in range(warmup):
        fn()
    times = []
    faults0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    busy0, own0, wall0 = machine_busy_seconds(), own_cpu_seconds(), time.perf_counter()
    for _ in range(iters):
        start = time.perf_counter_ns()
        fn()
        times.append((time.perf_counter_ns() - start) / 1e6)
    return {
        "timesMs": times,
        "busySeconds": machine_busy_seconds() - busy0,
        "ownSeconds": own_cpu_seconds() - own0,
        "wallSeconds": time.perf_counter() - wall0,
        "minorFaults": resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults0,
    }


def summary(blocks):
    """min, median, the share of the machine's CPU that other processes used while timed, and
    minor page faults per call (fresh memory from the kernel: a sign of allocator churn)."""
    times = [t for b in blocks for t in b["timesMs"]]
    wall = sum(b["wallSeconds"] for b in blocks)
    others = max(0.0, sum(b["busySeconds"] - b["ownSeconds"] for b in blocks)) / (wall * os.cpu_count())
    faults = sum(b["minorFaults"] for b in blocks) / len(times)
    return {"minMs": min(times), "medianMs": statistics.median(times), "otherCpuShare": others, "faultsPerCall": faults, "timesMs": times}


def setup(seed, threads):
    """The ops of ops.ts, on inputs made from the seed in the same order as there."""
    import torch
    import torch.nn.functional as F

    if threads > 0:
        torch.set_num_threads(threads)
    torch.manual_seed(seed)
    x = torch.randn(8, 32, 64, 64)
    w = torch.randn(32, 32, 3, 3)
    a = torch.randn(1024, 1024)
    b = torch.randn(1024, 1024)
    checksums = {name: t.double().sum().item() for name, t in (("x", x), ("w", w), ("a", a), ("b", b))}

    def conv_step(mf):
        # Leaves of their own (x and w stay plain); contiguous() of a contiguous tensor is itself.
        xi = x.detach().contiguous(memory_format=mf).requires_grad_(True)
        wi = w.detach().contiguous(memory_format=mf).requires_grad_(True)
        assert xi.is_contiguous(memory_format=mf) and wi.is_contiguous(memory_format=mf)

        def step():
            xi.grad = None
            wi.grad = None
            out = F.conv2d(xi, wi, padding=1)
            out.sum().backward()

        return step

    ops = {
        "conv2d fwd+bwd (contiguous)": conv_step(torch.contiguous_format),
        "conv2d fwd+bwd (channels_last)": conv_step(torch.channels_last),
        # a and b do not require grad, as in ops.ts: no autograd recording either way.
        "matmul 1024x1024": lambda: torch.matmul(a, b),
    }
    info = {
        "torchVersion": torch.__version__,
        "threads": torch.get_num_threads(),
        "openblasCoretype": os.environ.get("OPENBLAS_CORETYPE"),
        "ompNumThreads": os.environ.get("OMP_NUM_THREADS"),
        "openblas": openblas_info(),
        "checksums": checksums,
    }
    return ops, info


def serve(ops, info):
    """Driven by ops.ts, which interleaves blocks of calls with its own: one JSON request per line
    on stdin ({"op", "warmup", "iters"}), one JSON reply per line on stdout."""
    print(json.dumps({"ready": True, **info}), flush=True)
    for line in sys.stdin:
        if not line.strip():
            continue
        req = json.loads(line)
        try:
            reply = time_block(ops[req["op"]], req.get("warmup", 0), req["iters"])
        except Exception as err:  # reported to ops.ts, which prints it
            reply = {"error": f"{type(err).__name__}: {err}"}
        print(json.dumps(reply), flush=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--iters", type=int, default=50)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=0, help="0: PyTorch's default")
    parser.add_argument("--serve", action="store_true", help="take requests on stdin (used by ops.ts)")
    parser.add_argument("--blas-info", action="store_true")
    args = parser.parse_args()

    if args.blas_info:
        # Load OpenBLAS alone (no torch): the kernels it picks depend only on the CPU and env.
        json.dump({"openblas": openblas_info(), "openblasCoretype": os.environ.get("OPENBLAS_CORETYPE")}, sys.stdout)
        print()
        return

    ops, info = setup(args.seed, args.threads)
    if args.serve:
        serve(ops, info)
        return
    results = {name: summary([time_block(fn, args.warmup, args.iters)]) for name, fn in ops.items()}
    json.dump({**info, "results": results}, sys.stdout)
    print()


if __name__ == "__main__":
    main()
