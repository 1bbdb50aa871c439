"""The retrieval two-tower model in PyTorch: the same architecture, batch layout and optimizers as
the WebGPU trainer (packages/models/src/retrieval, packages/trainer/src/retrieval),
as a reference point for `vireo bench train` (CPU throughput of the same model and batch) and for
checking the WebGPU gradients against autograd.

Usage (driven by packages/trainer/src/bench/train.ts; reads a JSON job on stdin):
  python3 retrieval_torch.py bench < job.json   → {"samplesPerSecond": ..., "stepMs": ..., "threads": ...}
  python3 retrieval_torch.py check < job.json   → {"loss": ..., "maxRelError": {name: err, ...}}

A job holds the model config (RetrievalConfig as JSON), the batch size and, for `bench`, the
steps to time; batches are bags in the trainer's layout (CSR indices / offsets / weights over the
shared table, history lengths, logQ, item ids), given as base64 little-endian arrays.
"""
import base64
import json
import math
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F


def arr(b64, dtype):
    return np.frombuffer(base64.b64decode(b64), dtype=dtype).copy()


class TwoTower(torch.nn.Module):
    """Dense parameters named as in the bundle; the shared table separately (row-wise Adagrad)."""

    def __init__(self, cfg, dtype=torch.float32):
        super().__init__()
        W, D, L, H = cfg['fieldDim'], cfg['embeddingDim'], cfg['historyLength'], cfg['heads']
        Fi, Fu = len(cfg['itemFields']), len(cfg['userFields'])
        self.last_item = bool(cfg.get('lastItem'))
        S = Fu + 1 + (1 if self.last_item else 0)  # MLP input slots: fields, pooled history, last item
        self.W, self.D, self.L, self.H, self.Fi, self.Fu = W, D, L, H, Fi, Fu
        shapes = {
            'item.fc1.weight': (cfg['itemHidden'], Fi * W), 'item.fc1.bias': (cfg['itemHidden'],),
            'item.fc2.weight': (D, cfg['itemHidden']), 'item.fc2.bias': (D,),
            'history.q.weight': (W, W), 'history.k.weight': (W, W), 'history.v.weight': (W, W),
            'history.out.weight': (W, W), 'history.out.bias': (W,),
            'history.pool.key.weight': (W, W), 'history.pool.query': (W,),
            'user.fc1.weight': (cfg['userHidden'], S * W), 'user.fc1.bias': (cfg['userHidden'],),
            'user.fc2.weight': (D, cfg['userHidden']), 'user.fc2.bias': (D,),
        }
        self.names = list(shapes)
        self.dense = torch.nn.ParameterDict(
            {n.replace('.', '_'): torch.nn.Parameter(torch.empty(s, dtype=dtype)) for n, s in shapes.items()}
        )
        for n, s in shapes.items():
            p = self.dense[n.replace('.', '_')]
            if n.endswith('.weight'):
                bound = 1 / math.sqrt(s[1])
                torch.nn.init.uniform_(p, -bound, bound)
            else:
                torch.nn.init.zeros_(p)
        self.table = torch.nn.Parameter(0.1 * torch.randn(cfg['tableRows'], W, dtype=dtype))

    def p(self, name):
        return self.dense[name.replace('.', '_')]

    def bags(self, indices, offsets, weights):
        # offsets: CSR (bags + 1); embedding_bag wants the starts only, plus include_last_offset.
        return F.embedding_bag(
            indices, self.table, offsets, mode='sum', per_sample_weights=weights, include_last_offset=True
        )

    def forward(self, b):
        W, L, H, B = self.W, self.L, self.H, b['B']
        # item tower: one bag per (item, field) → (B, Fi·W)
        fields = self.bags(b['item_idx'], b['item_off'], b['item_w'])[: B * self.Fi].reshape(B, self.Fi * W)
        v = F.relu(F.linear(fields, self.p('item.fc1.weight'), self.p('item.fc1.bias')))
        v = F.linear(v, self.p('item.fc2.weight'), self.p('item.fc2.bias'))
        v = F.normalize(v, dim=1, eps=1e-12)
        # user tower rows: x (B·L) | o (B·L, empty) | f (B·Fu) | e (B, lastItem)
        rows = self.bags(b['user_idx'], b['user_off'], b['user_w'])
        nx = b['rows_x']
        x = rows[: B * L].reshape(B, L, W)
        f = rows[2 * nx: 2 * nx + B * self.Fu].reshape(B, self.Fu * W)
        lengths = b['lengths']
        valid = torch.arange(L).unsqueeze(0) < lengths.unsqueeze(1)  # (B, L)
        Dh = W // H

        def heads(t):
            return t.reshape(B, L, H, Dh).transpose(1, 2)  # (B, H, L, Dh)

        q = heads(F.linear(x, self.p('history.q.weight')))
        k = heads(F.linear(x, self.p('history.k.weight')))
        vv = heads(F.linear(x, self.p('history.v.weight')))
        s = q @ k.transpose(-1, -2) / math.sqrt(Dh)  # (B, H, L, L)
        s = s.masked_fill(~valid[:, None, None, :], float('-inf'))
        pr = torch.softmax(s, dim=-1).nan_to_num(0.0)
        a = (pr @ vv).transpose(1, 2).reshape(B, L, W) * valid.unsqueeze(-1)  # padded query rows give 0
        h = x + F.linear(a, self.p('history.out.weight'), self.p('history.out.bias'))
        kp = F.linear(h, self.p('history.pool.key.weight')).reshape(B, L, H, Dh)
        query = self.p('history.pool.query').reshape(H, Dh)
        ps = torch.einsum('blhd,hd->bhl', kp, query) / math.sqrt(Dh)
        ps = ps.masked_fill(~valid[:, None, :], float('-inf'))
        pp = torch.softmax(ps, dim=-1).nan_to_num(0.0)  # a history of length 0 pools to zeros
        pooled = torch.einsum('bhl,blhd->bhd', pp, h.reshape(B, L, H, Dh)).reshape(B, W)
        # with lastItem the rows after f hold e (B): the most recent history item
        last = [rows[2 * nx + B * self.Fu: 2 * nx + B * self.Fu + B]] if self.last_item else []
        inp = torch.cat([f, pooled] + last, dim=1)
        u = F.relu(F.linear(inp, self.p('user.fc1.weight'), self.p('user.fc1.bias')))
        u = F.linear(u, self.p('user.fc2.weight'), self.p('user.fc2.bias'))
        u = F.normalize(u, dim=1, eps=1e-12)
        return u, v

    def loss(self, b, tau):
        u, v = self.forward(b)
        logits = u @ v.T / tau - b['logq'].unsqueeze(0)
        ids = b['ids']
        hit = (ids.unsqueeze(0) == ids.unsqueeze(1)) & ~torch.eye(len(ids), dtype=torch.bool)
        logits = logits.masked_fill(hit, float('-inf'))
        return F.cross_entropy(logits, torch.arange(len(ids)))


def batch_tensors(j, dtype):
    t = lambda k, d: torch.from_numpy(arr(j[k], d).astype(np.int64 if d == np.uint32 else d))
    return {
        'B': j['B'], 'rows_x': j['rowsX'],
        'item_idx': t('itemIndices', np.uint32).long(), 'item_off': t('itemOffsets', np.uint32).long(),
        'item_w': t('itemWeights', np.float32).to(dtype),
        'user_idx': t('userIndices', np.uint32).long(), 'user_off': t('userOffsets', np.uint32).long(),
        'user_w': t('userWeights', np.float32).to(dtype),
        'lengths': t('lengths', np.uint32).long(), 'logq': t('logq', np.float32).to(dtype),
        'ids': t('ids', np.uint32).long(),
    }


class RowwiseAdagrad:
    """acc[r] += mean_d g²; w[r] −= lr·g/(√acc[r] + eps), on the rows with a gradient."""

    def __init__(self, table, lr, eps=1e-8):
        self.table, self.lr, self.eps = table, lr, eps
        self.acc = torch.zeros(table.shape[0], dtype=table.dtype)

    @torch.no_grad()
    def step(self):
        g = self.table.grad
        rows = torch.nonzero(g.abs().sum(1) > 0).squeeze(1)
        gr = g[rows]
        self.acc[rows] += (gr * gr).mean(1)
        self.table[rows] -= self.lr * gr / (self.acc[rows].sqrt() + self.eps).unsqueeze(1)


def bench(job):
    torch.manual_seed(0)
    model = TwoTower(job['config'])
    adam = torch.optim.AdamW(model.dense.parameters(), lr=job['lr'], weight_decay=0.0)
    adagrad = RowwiseAdagrad(model.table, job['tableLr'])
    batches = [batch_tensors(b, torch.float32) for b in job['batches']]
    tau = job['config']['temperature']

    def step(b):
        adam.zero_grad(set_to_none=False)
        model.table.grad = None
        loss = model.loss(b, tau)
        loss.backward()
        adam.step()
        adagrad.step()
        return loss.item()

    for b in batches[:2]:
        step(b)  # warm-up
    times = []
    for i in range(job['steps']):
        t0 = time.perf_counter()
        step(batches[i % len(batches)])
        times.append(time.perf_counter() - t0)
    times.sort()
    med = times[len(times) // 2]
    return {
        'stepMs': med * 1000, 'samplesPerSecond': job['B'] / med, 'threads': torch.get_num_threads(),
        'torch': torch.__version__,
    }


def check(job):
    """Loss and gradients in float64 from the given weights and batch, against the WebGPU ones."""
    cfg = job['config']
    model = TwoTower(cfg, dtype=torch.float64)
    params = arr(job['params'], np.float32).astype(np.float64)
    with torch.no_grad():
        for e in job['layout']:
            model.p(e['name']).copy_(
                torch.from_numpy(params[e['offset']: e['offset'] + e['size']].reshape(e['shape']))
            )
        table = arr(job['table'], np.float32).astype(np.float64).reshape(cfg['tableRows'], cfg['fieldDim'])
        model.table.copy_(torch.from_numpy(table))
    b = batch_tensors(job['batch'], torch.float64)
    loss = model.loss(b, cfg['temperature'])
    loss.backward()
    grads = arr(job['grads'], np.float32)
    out = {'loss': loss.item(), 'maxRelError': {}}

    def rel(got, want):
        scale = max(float(np.abs(want).max()), 1e-30)
        return float(np.abs(got - want).max()) / scale

    for e in job['layout']:
        want = model.p(e['name']).grad.numpy().reshape(-1)
        out['maxRelError'][e['name']] = rel(grads[e['offset']: e['offset'] + e['size']], want)
    rows = arr(job['tableRows'], np.uint32).astype(np.int64)
    got_rows = arr(job['tableGrad'], np.float32).reshape(len(rows), cfg['fieldDim'])
    want_table = model.table.grad.numpy()
    out['maxRelError']['table'] = rel(got_rows, want_table[rows])
    out['tableRowsWithGradient'] = int((np.abs(want_table).sum(1) > 0).sum())
    out['tableRowsReported'] = int(len(rows))
    return out


if __name__ == '__main__':
    job = json.load(sys.stdin)
    if 'threads' in job and job['threads']:
        torch.set_num_threads(int(job['threads']))
    result = bench(job) if sys.argv[1] == 'bench' else check(job)
    json.dump(result, sys.stdout)
