// SVG charts: line (training curves), grouped bars (evaluation), waterfall (latency), scatter
// (embedding map). Each returns an <svg> sized by its viewBox, scaled by CSS to its container.
import { colorOf, fmt, svg } from './dom.ts';

const INK = '#1d2433';
const MUTED = '#8a93a6';
const GRID = '#eceff5';

export interface Series {
  name: string;
  points: [number, number][];
  color?: string;
}

/** A line chart of one or more series (x: epoch, y: loss). */
export function lineChart(
  series: Series[],
  o: { width?: number; height?: number; xLabel?: string; yLabel?: string } = {},
): SVGElement {
  const W = o.width ?? 260;
  const H = o.height ?? 150;
  const m = { l: 40, r: 10, t: 12, b: 28 };
  const all = series.flatMap((s) => s.points);
  const root = svg('svg', { viewBox: `0 0 ${W} ${H}`, class: 'chart' });
  if (all.length === 0) {
    root.append(
      svg(
        'text',
        { x: W / 2, y: H / 2, 'text-anchor': 'middle', fill: MUTED, 'font-size': 12 },
        'no training curve in this bundle',
      ),
    );
    return root;
  }
  const [x0, x1] = [Math.min(...all.map((p) => p[0])), Math.max(...all.map((p) => p[0]))];
  let [y0, y1] = [Math.min(...all.map((p) => p[1])), Math.max(...all.map((p) => p[1]))];
  if (y1 - y0 < 1e-9) [y0, y1] = [y0 - 0.5, y1 + 0.5];
  const pad = (y1 - y0) * 0.08;
  y0 -= pad;
  y1 += pad;
  const X = (x: number) => m.l + ((x - x0) / (x1 - x0 || 1)) * (W - m.l - m.r);
  const Y = (y: number) => H - m.b - ((y - y0) / (y1 - y0)) * (H - m.t - m.b);
  for (let i = 0; i <= 3; i++) {
    const y = y0 + ((y1 - y0) * i) / 3;
    root.append(svg('line', { x1: m.l, x2: W - m.r, y1: Y(y), y2: Y(y), stroke: GRID }));
    root.append(
      svg('text', { x: m.l - 5, y: Y(y) + 3, 'text-anchor': 'end', fill: MUTED, 'font-size': 9 }, y.toFixed(2)),
    );
  }
  const xs = [...new Set(all.map((p) => p[0]))].sort((a, b) => a - b);
  const step = Math.max(1, Math.ceil(xs.length / 8));
  xs.forEach((x, i) => {
    if (i % step === 0)
      root.append(
        svg('text', { x: X(x), y: H - m.b + 12, 'text-anchor': 'middle', fill: MUTED, 'font-size': 9 }, String(x)),
      );
  });
  if (o.xLabel)
    root.append(
      svg('text', { x: (W + m.l) / 2, y: H - 3, 'text-anchor': 'middle', fill: MUTED, 'font-size': 9 }, o.xLabel),
    );
  series.forEach((s, k) => {
    const c = s.color ?? colorOf(k);
    root.append(
      svg('polyline', {
        points: s.points.map((p) => `${X(p[0])},${Y(p[1])}`).join(' '),
        fill: 'none',
        stroke: c,
        'stroke-width': 2,
        'stroke-linejoin': 'round',
      }),
    );
    for (const p of s.points) root.append(svg('circle', { cx: X(p[0]), cy: Y(p[1]), r: 2.5, fill: c }));
  });
  return root;
}

/** Grouped horizontal bars: one group per metric, one bar per method; the model highlighted. */
export function barChart(
  groups: { label: string; bars: { name: string; value: number }[] }[],
  o: { width?: number; max?: number; format?: (x: number) => string; highlight?: string } = {},
): SVGElement {
  const W = o.width ?? 260;
  const rowH = 13;
  const gap = 10;
  const m = { l: 74, r: 40, t: 4 };
  const H = m.t + groups.reduce((s, g) => s + g.bars.length * rowH + gap + 12, 0);
  const max = o.max ?? Math.max(1e-9, ...groups.flatMap((g) => g.bars.map((b) => b.value)));
  const f = o.format ?? ((x: number) => x.toFixed(3));
  const root = svg('svg', { viewBox: `0 0 ${W} ${H}`, class: 'chart' });
  let y = m.t;
  for (const g of groups) {
    root.append(svg('text', { x: 0, y: y + 9, fill: INK, 'font-size': 10, 'font-weight': 600 }, g.label));
    y += 12;
    for (const b of g.bars) {
      const w = Math.max(1, (b.value / max) * (W - m.l - m.r));
      const hi = b.name === (o.highlight ?? 'model');
      root.append(
        svg(
          'text',
          {
            x: m.l - 6,
            y: y + 9.5,
            'text-anchor': 'end',
            fill: hi ? INK : MUTED,
            'font-size': 9.5,
            'font-weight': hi ? 600 : 400,
          },
          b.name,
        ),
      );
      root.append(
        svg('rect', { x: m.l, y: y + 1.5, width: w, height: rowH - 3, rx: 2, fill: hi ? '#4f7cff' : '#c9d1e3' }),
      );
      root.append(svg('text', { x: m.l + w + 4, y: y + 9.5, fill: hi ? INK : MUTED, 'font-size': 9.5 }, f(b.value)));
      y += rowH;
    }
    y += gap;
  }
  return root;
}

export const STAGE_COLORS: Record<string, string> = {
  features: '#00a2c7',
  userTower: '#9b6bff',
  retrieval: '#4f7cff',
  ranking: '#ff8a3d',
  blend: '#22b07d',
};
export const STAGE_LABELS: Record<string, string> = {
  features: 'features (edge)',
  userTower: 'user tower',
  retrieval: 'retrieval top-k',
  ranking: 'ranking (DLRM)',
  blend: 'blend',
};

/** The stages of one request as a waterfall: each bar starts where the previous ended. */
export function waterfall(stages: { name: string; ms: number }[], o: { width?: number } = {}): SVGElement {
  const W = o.width ?? 360;
  const rowH = 20;
  const m = { l: 96, r: 56, t: 4 };
  const total = Math.max(
    1e-6,
    stages.reduce((s, x) => s + x.ms, 0),
  );
  const H = m.t + stages.length * rowH + 16;
  const root = svg('svg', { viewBox: `0 0 ${W} ${H}`, class: 'chart' });
  const X = (ms: number) => m.l + (ms / total) * (W - m.l - m.r);
  let at = 0;
  stages.forEach((s, i) => {
    const y = m.t + i * rowH;
    root.append(
      svg(
        'text',
        { x: m.l - 8, y: y + 13, 'text-anchor': 'end', fill: INK, 'font-size': 10 },
        STAGE_LABELS[s.name] ?? s.name,
      ),
    );
    root.append(svg('line', { x1: m.l, x2: W - m.r, y1: y + rowH / 2, y2: y + rowH / 2, stroke: GRID }));
    root.append(
      svg('rect', {
        x: X(at),
        y: y + 4,
        width: Math.max(2, X(at + s.ms) - X(at)),
        height: rowH - 8,
        rx: 3,
        fill: STAGE_COLORS[s.name] ?? '#888',
      }),
    );
    root.append(
      svg('text', { x: Math.max(X(at + s.ms), X(at) + 2) + 5, y: y + 13, fill: MUTED, 'font-size': 9.5 }, fmt.ms(s.ms)),
    );
    at += s.ms;
  });
  root.append(
    svg(
      'text',
      { x: W - m.r, y: H - 3, 'text-anchor': 'end', fill: MUTED, 'font-size': 9.5 },
      `total ${fmt.ms(total)}`,
    ),
  );
  return root;
}

export interface MapPoint {
  x: number;
  y: number;
  color: string;
  id: string;
  /** The tooltip (default: the id). */
  label?: string;
  role: 'item' | 'history' | 'rec';
}

/** The embedding map: items coloured by category, history and recommendations marked, the user a star. */
export function scatter(
  points: MapPoint[],
  user: [number, number] | null,
  trail: [number, number][],
  o: { width?: number; height?: number; onPick?: (id: string) => void } = {},
): SVGElement {
  const W = o.width ?? 420;
  const H = o.height ?? 300;
  const m = 12;
  const xs = points
    .map((p) => p.x)
    .concat(
      user ? [user[0]] : [],
      trail.map((t) => t[0]),
    );
  const ys = points
    .map((p) => p.y)
    .concat(
      user ? [user[1]] : [],
      trail.map((t) => t[1]),
    );
  const [x0, x1] = [Math.min(...xs), Math.max(...xs)];
  const [y0, y1] = [Math.min(...ys), Math.max(...ys)];
  const X = (x: number) => m + ((x - x0) / (x1 - x0 || 1)) * (W - 2 * m);
  const Y = (y: number) => H - m - ((y - y0) / (y1 - y0 || 1)) * (H - 2 * m);
  const root = svg('svg', { viewBox: `0 0 ${W} ${H}`, class: 'chart map' });
  const order = { item: 0, rec: 1, history: 2 } as const;
  for (const p of [...points].sort((a, b) => order[a.role] - order[b.role])) {
    const attrs =
      p.role === 'item'
        ? { cx: X(p.x), cy: Y(p.y), r: 2.6, fill: p.color, 'fill-opacity': 0.45 }
        : p.role === 'rec'
          ? { cx: X(p.x), cy: Y(p.y), r: 4.5, fill: p.color, stroke: '#1d2433', 'stroke-width': 1.2 }
          : { cx: X(p.x), cy: Y(p.y), r: 4.5, fill: '#fff', stroke: p.color, 'stroke-width': 2.2 };
    const c = svg('circle', attrs, svg('title', {}, p.label ?? p.id));
    if (o.onPick && p.role === 'rec') {
      c.setAttribute('class', 'pick');
      c.addEventListener('click', () => o.onPick!(p.id));
    }
    root.append(c);
  }
  if (trail.length > 1)
    root.append(
      svg('polyline', {
        points: trail.map((t) => `${X(t[0])},${Y(t[1])}`).join(' '),
        fill: 'none',
        stroke: '#1d2433',
        'stroke-width': 1.2,
        'stroke-dasharray': '3 3',
        opacity: 0.6,
      }),
    );
  if (user) {
    const [cx, cy] = [X(user[0]), Y(user[1])];
    const star = Array.from({ length: 10 }, (_, i) => {
      const r = i % 2 === 0 ? 9 : 4;
      const a = -Math.PI / 2 + (i * Math.PI) / 5;
      return `${cx + r * Math.cos(a)},${cy + r * Math.sin(a)}`;
    }).join(' ');
    root.append(
      svg(
        'polygon',
        { points: star, fill: '#1d2433', stroke: '#fff', 'stroke-width': 1.5 },
        svg('title', {}, 'the user’s vector'),
      ),
    );
  }
  return root;
}
