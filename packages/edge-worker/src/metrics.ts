// Prometheus text exposition (format 0.0.4) without a client library: counters and histograms
// with labels, kept in plain Maps. On Workers each isolate has its own copy (scrape through
// Workers Analytics Engine or logs there); on Node this is the whole process.

type Labels = Record<string, string>;

const escapeLabel = (v: string) => v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
const labelText = (names: readonly string[], values: readonly string[]) =>
  names.length === 0 ? '' : `{${names.map((n, i) => `${n}="${escapeLabel(values[i])}"`).join(',')}}`;

/** The map key of one series: its label values in the order of `names`. */
function seriesKey(names: readonly string[], labels: Labels): string {
  let key = '';
  for (let i = 0; i < names.length; i++) key += i === 0 ? (labels[names[i]] ?? '') : `\u0000${labels[names[i]] ?? ''}`;
  return key;
}

/** A monotonically increasing count per label set. */
export class Counter {
  private readonly values = new Map<string, { labels: string[]; value: number }>();
  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly string[] = [],
  ) {}

  /** Adds `n` (default 1) to the series with these labels. */
  inc(labels: Labels = {}, n = 1): void {
    const key = seriesKey(this.labelNames, labels);
    const series = this.values.get(key);
    if (series) series.value += n;
    else this.values.set(key, { labels: this.labelNames.map((k) => labels[k] ?? ''), value: n });
  }

  /** The current value of one series (tests read it). */
  get(labels: Labels = {}): number {
    return this.values.get(this.labelNames.map((k) => labels[k] ?? '').join('\u0000'))?.value ?? 0;
  }

  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} counter`];
    for (const { labels, value } of this.values.values())
      lines.push(`${this.name}${labelText(this.labelNames, labels)} ${value}`);
    return lines.join('\n');
  }
}

/** Observations counted into cumulative buckets, with their sum and count. */
export class Histogram {
  private readonly series = new Map<string, { labels: string[]; counts: number[]; sum: number; count: number }>();
  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly string[],
    readonly buckets: readonly number[],
  ) {}

  observe(labels: Labels, value: number): void {
    const key = seriesKey(this.labelNames, labels);
    let s = this.series.get(key);
    if (!s) {
      const values = this.labelNames.map((k) => labels[k] ?? '');
      this.series.set(key, (s = { labels: values, counts: new Array(this.buckets.length).fill(0), sum: 0, count: 0 }));
    }
    // Counted in the first bucket that holds it; render() makes the counts cumulative.
    let i = 0;
    while (i < this.buckets.length && value > this.buckets[i]) i++;
    if (i < this.buckets.length) s.counts[i]++;
    s.sum += value;
    s.count++;
  }

  /** The number of observations of one series (tests read it). */
  count(labels: Labels = {}): number {
    return this.series.get(this.labelNames.map((k) => labels[k] ?? '').join('\u0000'))?.count ?? 0;
  }

  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} histogram`];
    const names = [...this.labelNames, 'le'];
    for (const s of this.series.values()) {
      let cumulative = 0;
      this.buckets.forEach((b, i) => {
        cumulative += s.counts[i];
        lines.push(`${this.name}_bucket${labelText(names, [...s.labels, String(b)])} ${cumulative}`);
      });
      lines.push(`${this.name}_bucket${labelText(names, [...s.labels, '+Inf'])} ${s.count}`);
      lines.push(`${this.name}_sum${labelText(this.labelNames, s.labels)} ${s.sum}`);
      lines.push(`${this.name}_count${labelText(this.labelNames, s.labels)} ${s.count}`);
    }
    return lines.join('\n');
  }
}

/** Latency buckets in seconds: 50 µs to 5 s (feature reads live in the sub-millisecond ones). */
export const LATENCY_BUCKETS = [
  0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5,
];

/** The edge's metrics. One instance per app (or share one across apps in a process). */
export class EdgeMetrics {
  readonly requests = new Counter('vireo_http_requests_total', 'HTTP requests answered, by method, route and status.', [
    'method',
    'route',
    'status',
  ]);
  readonly latency = new Histogram(
    'vireo_http_request_duration_seconds',
    'Time to answer a request, by method, route and status.',
    ['method', 'route', 'status'],
    LATENCY_BUCKETS,
  );
  readonly events = new Counter('vireo_events_total', 'Events received, by outcome (accepted, duplicate, rejected).', [
    'outcome',
  ]);
  readonly featureLookups = new Counter(
    'vireo_feature_lookups_total',
    'Entity feature-row lookups, by entity and result (hit, miss).',
    ['entity', 'result'],
  );
  readonly featureValues = new Counter(
    'vireo_feature_values_total',
    'Feature values answered, by status (PRESENT, NOT_FOUND, OUTSIDE_MAX_AGE).',
    ['status'],
  );
  readonly featureRowsWritten = new Counter(
    'vireo_feature_values_written_total',
    'Feature values written by push, by result (written, stale).',
    ['result'],
  );
  readonly modelFiles = new Counter(
    'vireo_model_file_uploads_total',
    'Model file uploads, by result (stored, rejected).',
    ['result'],
  );
  readonly rateLimited = new Counter('vireo_rate_limited_total', 'Requests refused by the rate limiter.');
  private readonly startedAt = Date.now();

  /** The whole registry in Prometheus text format. */
  render(): string {
    const uptime =
      `# HELP vireo_uptime_seconds Seconds since this process (or isolate) started.\n# TYPE ` +
      `vireo_uptime_seconds gauge\nvireo_uptime_seconds ${(Date.now() - this.startedAt) / 1000}` +
      // Which process answered (`--workers N` has N, each with its own counters); absent on Workers.
      (typeof globalThis.process?.pid === 'number'
        ? `\n# HELP vireo_process_info The process serving this scrape.\n# TYPE vireo_process_info gauge\n` +
          `vireo_process_info{pid="${globalThis.process.pid}"} 1`
        : '');
    return (
      [
        this.requests,
        this.latency,
        this.events,
        this.featureLookups,
        this.featureValues,
        this.featureRowsWritten,
        this.modelFiles,
        this.rateLimited,
      ]
        .map((m) => m.render())
        .concat(uptime)
        .join('\n') + '\n'
    );
  }
}
