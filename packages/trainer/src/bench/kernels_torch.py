"""The kernel benchmarks' PyTorch peer: the same operation on the same shapes, timed in the same
run as the WGSL kernel (driven by packages/trainer/src/bench/peers.ts). On CUDA when PyTorch sees
a GPU (synchronised around every timed call), else on the CPU with PyTorch's thread count.

  python3 kernels_torch.py < job.json  → {"device": ..., "torch": ..., "threads": ..., "results": [...]}

A job: {"device": "auto"|"cpu"|"cuda", "warmup": 2, "minRuns": 10, "minMs": 300, "maxRuns": 200,
"cases": [{"op": "copy"|"matmul"|"linear"|"embedding_bag"|"dlrm_interaction"|"topk"|"topk_int8", ...sizes}]}.
Each result: {"median": ms, "p99": ms, "runs": n} or {"skipped": "why"}; inputs are random (the
timing does not depend on values).
"""
import json
import math
import sys
import time

import torch
import torch.nn.functional as F


def quantile(sorted_times, q):
    return sorted_times[min(len(sorted_times) - 1, max(0, math.ceil(q * len(sorted_times)) - 1))]


def measure(fn, sync, job):
    for _ in range(job.get('warmup', 2)):
        fn()
    sync()
    times = []
    start = time.perf_counter()
    while len(times) < job.get('maxRuns', 200) and (len(times) < job.get('minRuns', 10) or (time.perf_counter() - start) * 1000 < job.get('minMs', 300)):
        t0 = time.perf_counter()
        fn()
        sync()
        times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    return {'median': quantile(times, 0.5), 'p99': quantile(times, 0.99), 'runs': len(times)}


def make(case, dev):
    """The case's inputs and the call to time."""
    op = case['op']
    g = torch.Generator(device='cpu').manual_seed(1)
    rand = lambda *shape: torch.rand(*shape, generator=g).to(dev) * 2 - 1
    if op == 'copy':
        n = case['bytes'] // 4
        src, dst = rand(n), torch.empty(n, device=dev)
        return lambda: dst.copy_(src)
    if op == 'matmul':
        x, w = rand(case['M'], case['K']), rand(case['N'], case['K'])
        return lambda: x @ w.T
    if op == 'linear':
        x, w, b = rand(case['M'], case['K']), rand(case['N'], case['K']), rand(case['N'])
        return lambda: torch.relu(torch.addmm(b, x, w.T))
    if op == 'embedding_bag':
        B, bag, R, D = case['B'], case['bag'], case['R'], case['D']
        table = rand(R, D)
        idx = torch.randint(0, R, (B * bag,), generator=g).to(dev)
        offsets = torch.arange(0, B * bag, bag).to(dev)
        return lambda: F.embedding_bag(idx, table, offsets, mode='mean')
    if op == 'dlrm_interaction':
        B, Fs, D = case['B'], case['F'], case['D']
        dense, emb = rand(B, D), rand(B, Fs, D)
        li, lj = torch.tril_indices(Fs + 1, Fs + 1, offset=-1, device=dev)

        def interact():
            t = torch.cat([dense.unsqueeze(1), emb], dim=1)        # (B, F+1, D)
            z = torch.bmm(t, t.transpose(1, 2))[:, li, lj]         # pairwise dots, (B, F(F+1)/2)
            return torch.cat([dense, z], dim=1)
        return interact
    if op in ('topk', 'topk_int8'):
        N, D, k = case['N'], case['D'], case['k']
        q = F.normalize(rand(D), dim=0)
        items = F.normalize(rand(N, D), dim=1)
        if op == 'topk':
            return lambda: torch.topk(items @ q, k)
        # int8 rows with a per-row scale: PyTorch has no int8 GEMV on these devices, so the peer
        # dequantizes on the fly (what a user of PyTorch would write).
        scale = items.abs().amax(dim=1) / 127
        q8 = torch.round(items / scale[:, None]).to(torch.int8)
        return lambda: torch.topk((q8.to(torch.float32) @ q) * scale, k)
    raise ValueError(f"unknown op {op!r}")


def main():
    job = json.load(sys.stdin)
    want = job.get('device', 'auto')
    dev = 'cuda' if want == 'cuda' or (want == 'auto' and torch.cuda.is_available()) else 'cpu'
    sync = torch.cuda.synchronize if dev == 'cuda' else (lambda: None)
    results = []
    for case in job['cases']:
        try:
            with torch.no_grad():
                results.append(measure(make(case, dev), sync, job))
        except (RuntimeError, MemoryError) as e:  # out of memory on this device: say so, go on
            results.append({'skipped': f"PyTorch: {str(e).splitlines()[0][:160]}"})
        if dev == 'cuda':
            torch.cuda.empty_cache()
    name = torch.cuda.get_device_name() if dev == 'cuda' else 'CPU'
    print(json.dumps({'device': dev, 'name': name, 'torch': torch.__version__, 'threads': torch.get_num_threads(), 'results': results}))


if __name__ == '__main__':
    main()
