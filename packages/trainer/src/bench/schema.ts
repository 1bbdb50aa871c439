// The benchmark results schema: one JSON document per run of the whole set on one machine,
// written to bench/results/<YYYY-MM-DD>-<machine>.json by `pnpm bench` (this machine, SwiftShader)
// or by `vireo bench all --out FILE` (any machine, e.g. the GPU script in bench/gpu/), and
// rendered — every file in bench/results/, one section each — into BENCHMARKS.md by
// bench/render.ts. Nothing in BENCHMARKS.md is typed by hand.
//
// A report names where it ran (`machine`: CPU model and cores; `adapter`: GPUAdapterInfo's
// vendor, architecture, device and description; `versions`: node, the Dawn `webgpu` npm package,
// chromium, onnxruntime, torch …) and holds `tables`. A table is a list of rows, each row one
// case (e.g. `topk N=1000000 D=128 k=1000`): Vireo's figure and its peer's figure measured in
// the same run, each a median and P99 over many timed runs after warm-up, and
//   ratio = peer.ms.median / vireo.ms.median      (> 1: Vireo is faster than the peer)
// and, for kernels, the physical limit measured in the same run on the same adapter (a plain
// WGSL copy's GB/s for memory-bound kernels, a tuned WGSL matmul's GFLOP/s for compute-bound
// ones) with ofLimit = achieved / limit: the figure that matters.
//
//   {
//     "schema": "vireo-bench/1",
//     "date": "2026-11-27T08:40:00.000Z",
// "machine": { "name": "swiftshader-2cpu", "cpu": "AMD EPYC", "cores": 2, "memoryGb": 24, "os": "Linux 6.x", "gpu":
// null },
// "adapter": { "vendor": "google", "architecture": "swiftshader", "device": "", "description": "…",
// "isFallbackAdapter": true, "backend": "Dawn (webgpu npm)" },
//     "versions": { "node": "v20.20.2", "webgpu": "0.6.2", "chromium": "…", "onnxruntime": "1.30.0", "torch": "2.x" },
//     "wallSeconds": 612, "notes": ["reduced repetitions: …"],
//     "tables": [{ "id": "kernels", "title": "…", "about": "…", "notes": [], "rows": [{
//       "case": "topk N=1000000 D=128 k=1000", "params": { "N": 1000000, "D": 128, "k": 1000 },
// "vireo": { "who": "WGSL topk", "ms": { "median": 12.3, "p99": 14.1, "runs": 40 }, "rate": { "value": 41.6, "unit":
// "GB/s" } },
// "peer":  { "who": "PyTorch CUDA (matmul + topk)", "ms": { "median": 9.1, "p99": 9.8, "runs": 40 }, "rate": null },
//       "ratio": 0.74,
//       "limit": { "who": "WGSL copy 256 MB", "value": 3100, "unit": "GB/s", "ofLimit": 0.013 },
//       "perItemNs": 0.0123 }] }]
//   }
//
// Table ids used by the renderer (others render generically): `limits` (copy, tuned matmul),
// `kernels`, `topk-scaling`, `train` (retrieval step vs batch), `ranking`, `runtime`
// (recommend() in Chromium), `edge`. A producer that cannot run a peer keeps the row with
// `peer: { who, ms: null, skipped: "why" }` — a skipped peer says why, it is never dropped.

/** The version of this schema; bump on an incompatible change. */
export const SCHEMA = 'vireo-bench/1';

/** Milliseconds per call: median and P99 over `runs` timed runs after warm-up. */
export interface Stat {
  median: number;
  /** null where the producer reports only a median (e.g. PyTorch's training step). */
  p99: number | null;
  runs: number;
}

/** A derived throughput at the median time: GB/s, GFLOP/s, samples/s, items/s, req/s … */
export interface Rate {
  value: number;
  unit: string;
}

/** One party's figure for a case: Vireo's or the peer's. */
export interface Figure {
  /** What ran, e.g. `WGSL linear (Dawn)`, `PyTorch 1.13 CPU, 2 threads`, `redis-server 7.0 GET`. */
  who: string;
  /** Time per call, or null when skipped. */
  ms: Stat | null;
  rate?: Rate | null;
  /** Why this figure is missing (peer not installed, too slow for this adapter …). */
  skipped?: string;
}

/** The physical limit beside a kernel's figure, measured in the same run on the same adapter. */
export interface Limit {
  /** e.g. `WGSL copy 64 MB` or `tuned WGSL matmul 1024³`. */
  who: string;
  value: number;
  unit: string;
  /** The row's achieved rate over `value` (same unit). */
  ofLimit: number;
}

export interface Row {
  /** The case, readable: `linear M=1000 K=512 N=256 relu`. */
  case: string;
  /** The case's sizes as numbers, for scaling tables (N, D, k, batch …). */
  params?: Record<string, number | string>;
  vireo: Figure;
  /** The peer measured in the same run; null where the case has none (e.g. the copy kernel itself). */
  peer: Figure | null;
  /** peer.ms.median / vireo.ms.median (> 1: Vireo faster); null without both. */
  ratio: number | null;
  limit?: Limit | null;
  /** Vireo's median time per catalogue item in nanoseconds (scaling tables). */
  perItemNs?: number | null;
  /** Anything else worth a column: per-stage times, recall, max |difference| … */
  extra?: Record<string, number | string | null>;
}

export interface Table {
  id: string;
  title: string;
  /** One paragraph: what is measured, how, and against what. */
  about: string;
  notes: string[];
  rows: Row[];
  /** When a table ran on a different adapter than the report's (the browser's, say). */
  adapter?: Adapter | null;
}

/** GPUAdapterInfo, plus how it was reached. */
export interface Adapter {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  isFallbackAdapter: boolean;
  /** e.g. `Dawn (webgpu npm 0.6.2)` or `Chromium 156 (SwiftShader)`. */
  backend: string;
}

export interface Machine {
  /** The short name in the file name: `<date>-<name>.json`. */
  name: string;
  cpu: string;
  cores: number;
  memoryGb: number;
  os: string;
  /** A discrete GPU's name (nvidia-smi), when there is one. */
  gpu: string | null;
  /** 1-, 5-, 15-minute load averages at start and end: other work on the machine shows here. */
  loadAverage?: { start: number[]; end: number[] };
}

export interface Report {
  schema: typeof SCHEMA;
  /** ISO time the run started. */
  date: string;
  machine: Machine;
  adapter: Adapter | null;
  /** node, webgpu (Dawn npm), chromium, onnxruntime, torch, … — null when absent. */
  versions: Record<string, string | null>;
  wallSeconds: number;
  /** Reduced repetitions, noisy machine, skipped parts: said here, rendered under the heading. */
  notes: string[];
  tables: Table[];
}

/** The row's ratio: peer median over Vireo median, null without both. */
export function ratioOf(vireo: Figure, peer: Figure | null): number | null {
  if (!peer?.ms || !vireo.ms || !(vireo.ms.median > 0)) return null;
  return peer.ms.median / vireo.ms.median;
}

/** Checks that `x` looks like a Report; the error names the first missing field. */
export function checkReport(x: unknown, where: string): Report {
  const r = x as Partial<Report>;
  const need = (cond: unknown, what: string) => {
    if (!cond) throw new Error(`${where}: not a ${SCHEMA} report (${what}).`);
  };
  need(r && typeof r === 'object', 'not an object');
  need(r.schema === SCHEMA, `schema is ${JSON.stringify(r.schema)}`);
  need(typeof r.date === 'string', 'no date');
  need(r.machine && typeof r.machine.cpu === 'string', 'no machine.cpu');
  need(r.versions && typeof r.versions === 'object', 'no versions');
  need(Array.isArray(r.tables), 'no tables');
  for (const t of r.tables!) {
    need(typeof t.id === 'string' && Array.isArray(t.rows), `table ${t.id ?? '?'} has no rows`);
    for (const row of t.rows)
      need(typeof row.case === 'string' && row.vireo, `a row of table ${t.id} has no case or vireo figure`);
  }
  return r as Report;
}

/**
 * Several runs on one machine kind as one report, oldest first: the first run's header; tables
 * joined; a later run's rows replace the same cases' rows (its whole table when it covers them
 * all); a later run's yardsticks (`limits`) stay out of the table, since the first run's rows cite
 * the first run's, and each later row carries its own in its limit column. The notes say which
 * rows came from which run.
 * @example const report = mergeReports([kernelsRun, trainRun, rankingRerun]);
 */
export function mergeReports(runs: Report[]): Report {
  const parts = [...runs].sort((a, b) => a.date.localeCompare(b.date));
  const tables = new Map<string, Table>();
  const notes = new Set(parts.flatMap((p) => p.notes));
  for (const p of parts) {
    for (const t of p.tables) {
      const earlier = tables.get(t.id);
      if (!earlier) {
        tables.set(t.id, t);
        continue;
      }
      const when = `a later run on the same machine kind (${p.date.slice(0, 16).replace('T', ' ')} UTC)`;
      if (t.id === 'limits') {
        const measured = t.rows
          .map(
            (r) => `${r.case} ${r.vireo.rate ? `${Math.round(r.vireo.rate.value)} ${r.vireo.rate.unit}` : 'skipped'}`,
          )
          .join('; ');
        notes.add(
          `${t.title}: ${when} measured them again (${measured}); the rows from ` +
            `that run cite those in their limit column, the table keeps the first run's.`,
        );
        continue;
      }
      if (earlier.rows.every((r) => t.rows.some((l) => l.case === r.case))) {
        notes.add(`${t.title}: the whole table is from ${when}, replacing the first run's.`);
        tables.set(t.id, t);
        continue;
      }
      const later = new Map(t.rows.map((r) => [r.case, r]));
      const rows = earlier.rows.map((r) => later.get(r.case) ?? r);
      for (const r of t.rows) if (!earlier.rows.some((e) => e.case === r.case)) rows.push(r);
      notes.add(`${t.title}: ${t.rows.map((r) => r.case).join('; ')} from ${when}, replacing the first run's rows.`);
      tables.set(t.id, {
        ...earlier,
        rows,
        notes: [...new Set([...earlier.notes, ...t.notes.filter((n) => !n.startsWith('Section time'))])],
      });
    }
  }
  return {
    ...parts[0],
    tables: [...tables.values()],
    notes: [...notes],
    wallSeconds: parts.reduce((s, p) => s + p.wallSeconds, 0),
  };
}
