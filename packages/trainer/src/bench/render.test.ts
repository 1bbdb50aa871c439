// BENCHMARKS.md rendering on a tiny fixture: every report gets its section (newest first) naming
// machine, adapter and versions; rows show the peer, the ratio and the limit; a skipped peer says
// why; columns empty in a whole table are left out; a file in another schema is refused.
import { describe, expect, it } from 'vitest';
import { markdownTable, renderBenchmarks } from './render.ts';
import { checkReport, ratioOf, SCHEMA, type Report } from './schema.ts';

function fixture(date: string, machine: string, gpu: string | null): Report {
  const vireo = { who: 'WGSL topk', ms: { median: 2, p99: 3, runs: 40 }, rate: { value: 25.6, unit: 'GB/s' } };
  const peer = { who: 'PyTorch 2.4 CUDA (NVIDIA H200)', ms: { median: 4, p99: 5, runs: 40 } };
  return {
    schema: SCHEMA,
    date,
    wallSeconds: 300,
    notes: ['Reduced repetitions.'],
    machine: { name: machine, cpu: 'AMD EPYC', cores: 2, memoryGb: 24, os: 'Linux 6', gpu },
    adapter: {
      vendor: 'google',
      architecture: 'swiftshader',
      device: '',
      description: 'SwiftShader driver 5.0.0',
      isFallbackAdapter: true,
      backend: 'Dawn (0.6.2)',
    },
    versions: { node: 'v20.20.2', webgpu: '0.6.2', torch: null },
    tables: [
      {
        id: 'topk-scaling',
        title: 'Top-k scaling',
        about: 'One query.',
        notes: ['10M skipped.'],
        rows: [
          {
            case: 'topk N=100000',
            vireo,
            peer,
            ratio: ratioOf(vireo, peer),
            limit: { who: 'copy', value: 51.2, unit: 'GB/s', ofLimit: 0.5 },
            perItemNs: 20,
            extra: { 'max |Δu| CPU vs GPU': 0 },
          },
          {
            case: 'topk N=10000000',
            vireo: { who: 'WGSL topk', ms: null, skipped: 'over maxStorageBufferBindingSize' },
            peer: null,
            ratio: null,
          },
        ],
      },
      {
        id: 'train',
        title: 'Training',
        about: 'Steps.',
        notes: [],
        rows: [
          {
            case: 'batch 128',
            vireo: { who: 'WGSL step', ms: { median: 10, p99: 12, runs: 4 } },
            peer: { who: 'PyTorch', ms: null, skipped: 'python3-torch is not installed' },
            ratio: null,
          },
        ],
      },
    ],
  };
}

describe('renderBenchmarks', () => {
  const md = renderBenchmarks([
    { file: 'bench/results/2026-11-27-epyc.json', report: fixture('2026-11-27T08:00:00.000Z', 'epyc-2cpu', null) },
    {
      file: 'bench/results/2026-11-28-h200.json',
      report: fixture('2026-11-28T08:00:00.000Z', 'h200-16cpu', 'NVIDIA H200, driver 570'),
    },
  ]);

  it('renders one section per report, newest first, naming machine, adapter and versions', () => {
    const h200 = md.indexOf('## h200-16cpu');
    const epyc = md.indexOf('## epyc-2cpu');
    expect(h200).toBeGreaterThan(0);
    expect(epyc).toBeGreaterThan(h200);
    expect(md).toContain('GPU NVIDIA H200, driver 570');
    expect(md).toContain('description `SwiftShader driver 5.0.0`');
    expect(md).toContain('node v20.20.2 · webgpu 0.6.2 · torch –');
    expect(md).toContain('do not edit by hand');
  });

  it('puts the peer, the ratio and the limit beside the figure', () => {
    const line = md.split('\n').find((l) => l.startsWith('| topk N=100000 '))!;
    expect(line).toBeDefined();
    const row = line.split('|').map((c) => c.trim());
    expect(row).toContain('2.00'); // median
    expect(row).toContain('51.2 GB/s');
    expect(row).toContain('50%');
    expect(row).toContain('2.00×'); // peer 4 ms ÷ Vireo 2 ms
    expect(row).toContain('20.0'); // ns per item
  });

  it('says why a figure or a peer is missing, and drops columns empty in the whole table', () => {
    expect(md).toContain('skipped: over maxStorageBufferBindingSize');
    expect(md).toContain('skipped: python3-torch is not installed');
    const trainHeader = md
      .split('### Training')[1]
      .split('\n')
      .find((l) => l.startsWith('| case'))!;
    expect(trainHeader).not.toContain('of limit');
    expect(trainHeader).not.toContain('ns / item');
  });

  it('escapes a pipe in a column name as in a cell, so every line of a table has as many columns', () => {
    const after = md.split('### Top-k scaling')[1].split('\n');
    const start = after.findIndex((l) => l.startsWith('|'));
    const end = after.findIndex((l, i) => i > start && !l.startsWith('|'));
    const table = after.slice(start, end);
    expect(table.length).toBe(4); // header, alignment, two rows
    expect(table[0]).toContain('max \\|Δu\\| CPU vs GPU');
    const columns = (l: string) => l.split(/(?<!\\)\|/).length;
    for (const line of table) expect(columns(line)).toBe(columns(table[0]));
  });

  it('pads every table so that it reads as one in plain text: columns of one width, numbers right-aligned', () => {
    const tables = md.split('\n\n').filter((block) => block.startsWith('|'));
    expect(tables.length).toBeGreaterThanOrEqual(3); // the runs, then each report's tables
    for (const table of tables) {
      const lines = table.split('\n').filter((l) => l !== '');
      // The pipes sit at the same character positions on every line.
      const pipes = (l: string) => [...l.matchAll(/(?<!\\)\|/g)].map((m) => m.index);
      for (const line of lines) expect(pipes(line)).toEqual(pipes(lines[0]));
    }
    expect(markdownTable(['case', 'ms'], [false, true], [['a', '1.5']])).toBe(
      '| case |  ms |\n| ---- | --: |\n| a    | 1.5 |',
    );
  });

  it('refuses a file in another schema, naming it', () => {
    expect(() => checkReport({ schema: 'other' }, 'bench/results/x.json')).toThrow(
      /bench\/results\/x\.json: not a vireo-bench\/1 report/,
    );
    expect(
      checkReport(JSON.parse(JSON.stringify(fixture('2026-11-27T08:00:00.000Z', 'a', null))), 'f').tables,
    ).toHaveLength(2);
  });
});
