// BENCHMARKS.md from the reports in bench/results/ (schema.ts): one section per report — its
// machine, adapter and versions, its notes — and one table per benchmark, every figure beside its
// peer and, for kernels, its limit. Nothing is computed here that is not in the JSON; columns
// that are empty for a whole table are left out. Newest report first.
import type { Figure, Report, Row, Table } from './schema.ts';

/** Numbers for tables: 3 significant digits, no exponent for ordinary magnitudes. */
export function fmt(n: number | null | undefined): string {
  if (n === null || n === undefined || Number.isNaN(n)) return '–';
  if (!Number.isFinite(n)) return String(n);
  if (n === 0) return '0';
  const a = Math.abs(n);
  if (a >= 1e5) return Math.round(n).toLocaleString('en');
  if (a >= 100) return n.toFixed(0);
  if (a >= 1e-3) return n.toPrecision(3);
  return n.toExponential(2);
}

/**
 * A Markdown table with its columns padded to their widest cell (at least 3), so that the file reads as a table in
 * plain text too; `right` columns (numbers) are right-aligned, and marked so (`---:`) for renderers.
 * @example markdownTable(['case', 'ms'], [false, true], [['a', '1.5']])
 * // '| case |  ms |\n| ---- | --: |\n| a    | 1.5 |'
 */
export function markdownTable(head: string[], right: boolean[], rows: string[][]): string {
  const width = head.map((h, c) => Math.max(3, h.length, ...rows.map((r) => r[c].length)));
  const line = (r: string[]) =>
    `| ${r.map((x, c) => (right[c] ? x.padStart(width[c]) : x.padEnd(width[c]))).join(' | ')} |`;
  const rule = `| ${width.map((w, c) => (right[c] ? `${'-'.repeat(w - 1)}:` : '-'.repeat(w))).join(' | ')} |`;
  return [line(head), rule, ...rows.map(line)].join('\n');
}

const pct = (x: number) => (x >= 0.1 ? `${(x * 100).toFixed(0)}%` : `${(x * 100).toPrecision(2)}%`);
const cell = (s: string) => s.replace(/\|/g, '\\|');

interface Column {
  head: string;
  /** Right-aligned (numbers). */
  num: boolean;
  get(row: Row): string | null;
}

const rate = (f: Figure | null) => (f?.rate ? `${fmt(f.rate.value)} ${f.rate.unit}` : null);

/** The columns every table may have, in order; those empty in all rows are dropped. */
function columns(t: Table): Column[] {
  const whoVaries = new Set(t.rows.map((r) => r.vireo.who)).size > 1;
  const peerWho = new Set(t.rows.map((r) => r.peer?.who ?? ''));
  const extraKeys = [...new Set(t.rows.flatMap((r) => Object.keys(r.extra ?? {})))];
  return [
    { head: 'case', num: false, get: (r) => r.case },
    { head: 'Vireo', num: false, get: (r) => (whoVaries ? r.vireo.who : null) },
    {
      head: 'median ms',
      num: true,
      get: (r) => (r.vireo.ms ? fmt(r.vireo.ms.median) : `skipped: ${r.vireo.skipped ?? '?'}`),
    },
    { head: 'P99 ms', num: true, get: (r) => (r.vireo.ms ? fmt(r.vireo.ms.p99) : null) },
    { head: 'runs', num: true, get: (r) => (r.vireo.ms ? String(r.vireo.ms.runs) : null) },
    { head: 'rate', num: true, get: (r) => rate(r.vireo) },
    { head: 'ns / item', num: true, get: (r) => (r.perItemNs === undefined ? null : fmt(r.perItemNs)) },
    { head: 'limit (same run)', num: true, get: (r) => (r.limit ? `${fmt(r.limit.value)} ${r.limit.unit}` : null) },
    { head: 'of limit', num: true, get: (r) => (r.limit ? pct(r.limit.ofLimit) : null) },
    { head: 'peer', num: false, get: (r) => (r.peer && peerWho.size > 1 ? r.peer.who : null) },
    {
      head: 'peer median ms',
      num: true,
      get: (r) => (r.peer ? (r.peer.ms ? fmt(r.peer.ms.median) : `skipped: ${r.peer.skipped ?? '?'}`) : null),
    },
    { head: 'peer P99 ms', num: true, get: (r) => (r.peer?.ms ? fmt(r.peer.ms.p99) : null) },
    { head: 'peer rate', num: true, get: (r) => rate(r.peer) },
    { head: 'ratio (peer ÷ Vireo time)', num: true, get: (r) => (r.ratio === null ? null : `${fmt(r.ratio)}×`) },
    ...extraKeys.map(
      (k): Column => ({
        head: k,
        num: true,
        get: (r) =>
          r.extra && k in r.extra
            ? typeof r.extra[k] === 'number'
              ? fmt(r.extra[k] as number)
              : ((r.extra[k] as string | null) ?? '–')
            : null,
      }),
    ),
  ];
}

/** One table in Markdown, with its paragraph and notes. */
export function renderTable(t: Table, level = '###'): string {
  const cols = columns(t).filter((c) => c.head === 'case' || t.rows.some((r) => c.get(r) !== null));
  const peers = [...new Set(t.rows.flatMap((r) => (r.peer ? [r.peer.who] : [])))];
  const lines = [`${level} ${t.title}`, '', t.about, ''];
  if (t.adapter)
    lines.push(
      `Adapter: ${t.adapter.vendor} ${t.adapter.architecture} ${t.adapter.description}`.trim() +
        ` (${t.adapter.backend}).`,
      '',
    );
  if (peers.length === 1) lines.push(`Peer: ${peers[0]}.`, '');
  lines.push(
    markdownTable(
      cols.map((c) => cell(c.head)),
      cols.map((c) => c.num),
      t.rows.map((r) => cols.map((c) => cell(c.get(r) ?? ''))),
    ),
  );
  if (t.notes.length) lines.push('', ...t.notes.map((n) => `- ${n}`));
  return lines.join('\n');
}

/** One report: heading (machine · adapter · date), where it ran, versions, notes, tables. */
export function renderReport(r: Report, file: string): string {
  const a = r.adapter;
  const adapterName = a ? [a.vendor, a.architecture, a.description].filter(Boolean).join(' ') : 'no adapter';
  const m = r.machine;
  const versions = Object.entries(r.versions)
    .map(([k, v]) => `${k} ${v ?? '–'}`)
    .join(' · ');
  const load = m.loadAverage ? `; load average ${m.loadAverage.start[0]} at start, ${m.loadAverage.end[0]} at end` : '';
  const adapterLine = a
    ? `vendor \`${a.vendor || '–'}\`, architecture \`${a.architecture || '–'}\`, device \`${a.device || '–'}\`, ` +
      `description \`${a.description || '–'}\`${a.isFallbackAdapter ? ' (fallback adapter: CPU)' : ''}, ` +
      `through ${a.backend}`
    : 'none';
  const lines = [
    `## ${m.name}: ${adapterName}, ${r.date.slice(0, 16).replace('T', ' ')} UTC`,
    '',
    `From \`${file}\`.`,
    '',
    `- **Machine**: ${m.cpu}, ${m.cores} cores, ${m.memoryGb} GB, ${m.os}${m.gpu ? `; GPU ${m.gpu}` : ''}${load}.`,
    `- **Adapter**: ${adapterLine}.`,
    `- **Versions**: ${versions}.`,
    `- **Wall time**: ${(r.wallSeconds / 60).toFixed(1)} min.`,
    ...r.notes.map((n) => `- ${n}`),
    '',
  ];
  for (const t of r.tables) lines.push(renderTable(t), '');
  return lines.join('\n');
}

/**
 * BENCHMARKS.md from every report, newest first.
 * @example writeFileSync('BENCHMARKS.md', renderBenchmarks([{ file: 'bench/results/x.json', report }]));
 */
export function renderBenchmarks(reports: { file: string; report: Report }[]): string {
  const sorted = [...reports].sort((x, y) => y.report.date.localeCompare(x.report.date));
  const head = [
    '# Vireo benchmarks',
    '',
    '<!-- Generated by `pnpm bench` (or `pnpm bench:render`) from bench/results/*.json: do not edit by hand. -->',
    '',
    'Every figure is a median and a P99 over timed runs after warm-up, beside its peer measured in the same run ' +
      'on the same machine; **ratio = peer time ÷ Vireo time** (above 1: Vireo is faster). Kernels also show the ' +
      "limit measured in the same run on the same adapter — a plain WGSL copy's GB/s for memory-bound kernels, a " +
      "tuned WGSL matmul's GFLOP/s for compute-bound ones — and the share of it achieved. Each section is one run " +
      '(`pnpm bench` on the machine at hand, or `vireo bench all` on another one); the schema is ' +
      'packages/trainer/src/bench/schema.ts.',
    '',
    markdownTable(
      ['run', 'machine', 'adapter', 'wall time'],
      [false, false, false, true],
      sorted.map(({ report: r }) => {
        const adapter = r.adapter
          ? [r.adapter.vendor, r.adapter.architecture, r.adapter.description].filter(Boolean).join(' ')
          : '–';
        const gpu = r.machine.gpu ? `, ${r.machine.gpu}` : '';
        return [
          r.date.slice(0, 16).replace('T', ' '),
          `${r.machine.name} (${r.machine.cpu}, ${r.machine.cores} cores${gpu})`,
          adapter,
          `${(r.wallSeconds / 60).toFixed(1)} min`,
        ].map(cell);
      }),
    ),
    '',
  ];
  return (
    [...head, ...sorted.map(({ file, report }) => renderReport(report, file))]
      .join('\n')
      .replace(/\n{3,}/g, '\n\n')
      .trimEnd() + '\n'
  );
}
