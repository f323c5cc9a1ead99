"""PyTorch nn.GRU timing for bench/egru.ts (spawned with a JSON config; prints one JSON line).

Same workload as the EGRU bench: x [T, N, C] (5 % non-zero event frames; nn.GRU is dense either way),
forward under no_grad for inference; forward + backward of sum(y * dy) for training, with
x.requires_grad = False (no input gradient, as the native kernels are timed). Median of `runs`, one thread
unless told otherwise (torch.set_num_threads and OPENBLAS_NUM_THREADS set by the caller).
"""
import json
import resource
import statistics
import sys
import time

import torch


def peak_rss_mib() -> float:
    """This process's own peak RSS: VmHWM on Linux (ru_maxrss survives exec and reports the parent's size)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    cfg = json.loads(sys.argv[1])
    C, H, N, T, runs = cfg["C"], cfg["H"], cfg["N"], cfg["T"], cfg["runs"]
    torch.set_num_threads(cfg.get("threads", 1))
    torch.manual_seed(0)
    gru = torch.nn.GRU(C, H)
    x = (torch.rand(T, N, C) < 0.05).float() * 0.5
    dy = torch.randn(T, N, H) * 0.01
    with torch.no_grad():
        gru(x)  # warm-up
    fwd, fb = [], []
    for _ in range(runs):
        t0 = time.perf_counter()
        with torch.no_grad():
            gru(x)
        fwd.append((time.perf_counter() - t0) * 1e3)
        gru.zero_grad(set_to_none=True)
        t0 = time.perf_counter()
        y, _ = gru(x)
        (y * dy).sum().backward()
        fb.append((time.perf_counter() - t0) * 1e3)
    peak = peak_rss_mib()
    print(json.dumps({"fwd_ms": statistics.median(fwd), "fwd_bwd_ms": statistics.median(fb), "peak_mib": peak}))


if __name__ == "__main__":
    main()
