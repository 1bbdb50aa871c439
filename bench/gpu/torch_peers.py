"""The PyTorch (CUDA) peers of the GPU benchmark that `vireo bench all` lacks: the DLRM scoring and
training step (the kernels, top-k and copy peers are in packages/trainer/src/bench/kernels_torch.py).

  1. DLRM scoring of K = 1,000 candidates, the Criteo shape of `vireo bench ranking --shape dlrm`
     (13 dense → bottom 512-256-64, 26 tables × dim 64, dot interaction with the dense vector,
     top 512-256, one 64-wide tower per head, heads ctr/cvr/revenue): inputs uploaded, forward,
     scores read back — what the WGSL figure includes.
  2. One DLRM training step at batch 512: forward, ESMM-style losses (BCE on pCTR and
     pCTR·pCVR, MSE on log1p revenue), backward, AdamW on the dense parameters and Adagrad on the
     tables.

Prints one JSON object: {"torch": version, "device": name, "cases": [{name, medianMs, p99Ms, runs}]}.
Usage: python3 bench/gpu/torch_peers.py [--runs 200]
"""
import json
import sys
import time

import torch


def timed(fn, runs, warmup=20):
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        torch.cuda.synchronize()
        times.append((time.perf_counter() - t0) * 1e3)
    times.sort()
    return {"medianMs": times[len(times) // 2], "p99Ms": times[min(len(times) - 1, int(0.99 * len(times)))], "runs": runs}


class DLRM(torch.nn.Module):
    def __init__(self, dense=13, tables=26, rows=10_000, dim=64, bottom=(512, 256, 64), top=(512, 256), tower=(64,), heads=3):
        super().__init__()
        def mlp(sizes, last_relu):
            layers = []
            for i in range(len(sizes) - 1):
                layers.append(torch.nn.Linear(sizes[i], sizes[i + 1]))
                if last_relu or i < len(sizes) - 2:
                    layers.append(torch.nn.ReLU())
            return torch.nn.Sequential(*layers)
        self.bottom = mlp((dense,) + bottom, True)
        self.tables = torch.nn.Embedding(tables * rows, dim)
        self.rows, self.F = rows, tables
        width = dim + (tables + 1) * tables // 2
        self.top = mlp((width,) + top, True)
        self.towers = torch.nn.ModuleList([mlp((top[-1],) + tower + (1,), False) for _ in range(heads)])
        self.register_buffer("base", torch.arange(tables) * rows)
        li, lj = torch.tril_indices(tables + 1, tables + 1, offset=-1)
        self.register_buffer("li", li)
        self.register_buffer("lj", lj)

    def forward(self, dense, sparse):
        z = self.bottom(dense)
        e = self.tables(sparse + self.base)
        v = torch.cat([z.unsqueeze(1), e], 1)
        dots = torch.bmm(v, v.transpose(1, 2))[:, self.li, self.lj]
        h = self.top(torch.cat([z, dots], 1))
        return torch.cat([t(h) for t in self.towers], 1)


def main():
    runs = int(sys.argv[sys.argv.index("--runs") + 1]) if "--runs" in sys.argv else 200
    dev = torch.device("cuda")
    torch.manual_seed(1)
    cases = []

    model = DLRM().to(dev).eval()
    K = 1000
    dense_h = torch.randn(K, 13).pin_memory()
    sparse_h = torch.randint(0, 10_000, (K, 26)).pin_memory()

    @torch.no_grad()
    def score():
        out = model(dense_h.to(dev, non_blocking=True), sparse_h.to(dev, non_blocking=True))
        p = torch.cat([torch.sigmoid(out[:, :2]), out[:, 2:]], 1)
        return p.cpu()
    cases.append({"name": "dlrm score 1000 candidates (upload + forward + read back)", **timed(score, runs)})

    model.train()
    B = 512
    dense_t = torch.randn(B, 13, device=dev)
    sparse_t = torch.randint(0, 10_000, (B, 26), device=dev)
    click = (torch.rand(B, device=dev) < 0.25).float()
    conv = click * (torch.rand(B, device=dev) < 0.3).float()
    rev = conv * 20 * torch.rand(B, device=dev)
    dense_params = [p for n, p in model.named_parameters() if not n.startswith("tables")]
    adamw = torch.optim.AdamW(dense_params, lr=1e-3)
    adagrad = torch.optim.Adagrad(model.tables.parameters(), lr=0.01)

    def step():
        out = model(dense_t, sparse_t)
        pctr, pcvr = torch.sigmoid(out[:, 0]), torch.sigmoid(out[:, 1])
        loss = torch.nn.functional.binary_cross_entropy_with_logits(out[:, 0], click)
        loss = loss + torch.nn.functional.binary_cross_entropy((pctr * pcvr).clamp(1e-7, 1 - 1e-7), conv)
        loss = loss + (conv * (out[:, 2] - torch.log1p(rev)) ** 2).mean()
        adamw.zero_grad(set_to_none=True)
        adagrad.zero_grad(set_to_none=True)
        loss.backward()
        adamw.step()
        adagrad.step()
        return loss.item()
    t = timed(step, max(20, runs // 4))
    t["samplesPerSecond"] = B / (t["medianMs"] / 1e3)
    cases.append({"name": "dlrm train step batch 512 (fwd + bwd + AdamW + Adagrad)", **t})

    print(json.dumps({"torch": torch.__version__, "device": torch.cuda.get_device_name(0), "cases": cases}))


if __name__ == "__main__":
    main()
