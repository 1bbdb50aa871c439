"""The kernel benchmarks' PyTorch peer: the same operation on the same shapes, timed in the same
run as the WGSL kernel (driven by packages/trainer/src/bench/peers.ts). On CUDA when PyTorch sees
a GPU (synchronised around every timed call), else on the CPU with PyTorch's thread count.

  python3 kernels_torch.py < job.json  → {"device": ..., "torch": ..., "threads": ..., "results": [...]}

A job: {"device": "auto"|"cpu"|"cuda", "warmup": 2, "minRuns": 10, "minMs": 300, "maxRuns": 200,
"cases": [{"op": "copy"|"matmul"|"linear"|"embedding_bag"|"attention"|"dlrm_interaction"|"topk"|"topk_int8"
|"dlrm_score"|"dlrm_train", ...sizes}]}.
Each result: {"median": ms, "p99": ms, "runs": n} or {"skipped": "why"}; inputs are random (the
timing does not depend on values). The DLRM cases are the whole ranker of ranking.ts's
`criteoShape` (sizes as comma-separated strings): `dlrm_score` scores K candidates (on CUDA with
the inputs' upload and the scores' read-back, as the WGSL figure has them), `dlrm_train` is one
step at batch B — ESMM losses, backward, AdamW on the dense parameters, Adagrad on the tables
(element-wise: PyTorch has no row-wise one).
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
    while len(times) < job.get('maxRuns', 200) and (
        len(times) < job.get('minRuns', 10) or (time.perf_counter() - start) * 1000 < job.get('minMs', 300)
    ):
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
    if op == 'attention':
        # Self-attention over L history items with a padding mask, then learned-query pooling.
        B, L, D, H = case['B'], case['L'], case['D'], case['H']
        dh = D // H
        q, k, v, query = rand(B, L, D), rand(B, L, D), rand(B, L, D), rand(D)
        lengths = torch.randint(1, L + 1, (B,), generator=g).to(dev)
        pad = torch.arange(L, device=dev)[None, :] >= lengths[:, None]            # (B, L)
        heads = lambda x: x.view(B, -1, H, dh).transpose(1, 2)                    # (B, H, ·, dh)

        def attend():
            s = heads(q) @ heads(k).transpose(2, 3) / math.sqrt(dh)               # (B, H, L, L)
            out = s.masked_fill(pad[:, None, None, :], -math.inf).softmax(-1) @ heads(v)
            out = out.transpose(1, 2).reshape(B, L, D)
            p = (heads(out) @ query.view(H, dh, 1)).squeeze(-1) / math.sqrt(dh)  # (B, H, L)
            w = p.masked_fill(pad[:, None, :], -math.inf).softmax(-1)
            return (w.unsqueeze(2) @ heads(out)).reshape(B, D)
        return attend
    if op in ('dlrm_score', 'dlrm_train'):
        return dlrm_case(case, dev, g)
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


def mlp(sizes, last_relu):
    layers = []
    for i in range(len(sizes) - 1):
        layers.append(torch.nn.Linear(sizes[i], sizes[i + 1]))
        if last_relu or i < len(sizes) - 2:
            layers.append(torch.nn.ReLU())
    return torch.nn.Sequential(*layers)


class DLRM(torch.nn.Module):
    """Bottom MLP, one table per categorical feature, dot interaction (lower triangle) with the
    dense vector, top MLP, one tower per head — the shape of runtime-web's RankingModel."""

    def __init__(self, dense, tables, rows, dim, bottom, top, tower, heads=3):
        super().__init__()
        self.bottom = mlp((dense,) + bottom, True)
        self.tables = torch.nn.Embedding(tables * rows, dim)
        self.top = mlp((dim + (tables + 1) * tables // 2,) + top, True)
        self.towers = torch.nn.ModuleList([mlp((top[-1],) + tower + (1,), False) for _ in range(heads)])
        self.register_buffer('base', torch.arange(tables) * rows)
        li, lj = torch.tril_indices(tables + 1, tables + 1, offset=-1)
        self.register_buffer('li', li)
        self.register_buffer('lj', lj)

    def forward(self, dense, sparse):
        z = self.bottom(dense)
        v = torch.cat([z.unsqueeze(1), self.tables(sparse + self.base)], 1)
        h = self.top(torch.cat([z, torch.bmm(v, v.transpose(1, 2))[:, self.li, self.lj]], 1))
        return torch.cat([t(h) for t in self.towers], 1)


def dlrm_case(case, dev, g):
    sizes = lambda key: tuple(int(x) for x in str(case[key]).split(','))
    Fd, Ft, rows = case['dense'], case['tables'], case['rows']
    model = DLRM(Fd, Ft, rows, case['dim'], sizes('bottom'), sizes('top'), sizes('tower')).to(dev)
    n = case['K'] if case['op'] == 'dlrm_score' else case['B']
    dense = torch.randn(n, Fd, generator=g)
    sparse = torch.randint(0, rows, (n, Ft), generator=g)
    if case['op'] == 'dlrm_score':
        model.eval()
        if dev == 'cuda':
            dense, sparse = dense.pin_memory(), sparse.pin_memory()

        def score():
            out = model(dense.to(dev, non_blocking=True), sparse.to(dev, non_blocking=True))
            return torch.cat([torch.sigmoid(out[:, :2]), out[:, 2:]], 1).cpu()
        return score
    dense, sparse = dense.to(dev), sparse.to(dev)
    click = (torch.rand(n, generator=g) < 0.25).float().to(dev)
    conv = click * (torch.rand(n, generator=g) < 0.3).float().to(dev)
    rev = conv * 20 * torch.rand(n, generator=g).to(dev)
    adamw = torch.optim.AdamW([p for name, p in model.named_parameters() if not name.startswith('tables')], lr=1e-3)
    adagrad = torch.optim.Adagrad(model.tables.parameters(), lr=0.02)

    def step():
        with torch.enable_grad():
            out = model(dense, sparse)
            pctcvr = (torch.sigmoid(out[:, 0]) * torch.sigmoid(out[:, 1])).clamp(1e-7, 1 - 1e-7)
            loss = F.binary_cross_entropy_with_logits(out[:, 0], click) + F.binary_cross_entropy(pctcvr, conv)
            loss = loss + 0.1 * (conv * (out[:, 2] - torch.log1p(rev)) ** 2).mean()
            adamw.zero_grad(set_to_none=True)
            adagrad.zero_grad(set_to_none=True)
            loss.backward()
            adamw.step()
            adagrad.step()
        return loss.item()  # waits for the step, as the WGSL figure waits for the GPU
    return step


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
    print(json.dumps({
        'device': dev, 'name': name, 'torch': torch.__version__, 'threads': torch.get_num_threads(), 'results': results,
    }))


if __name__ == '__main__':
    main()
