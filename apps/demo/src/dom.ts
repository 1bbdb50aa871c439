// Tiny DOM helpers: h() builds elements, svg() builds SVG elements. No framework.

type Child = Node | string | number | null | undefined | false | Child[];
type Attrs = Record<string, string | number | boolean | null | undefined | EventListener>;

function apply(el: Element, attrs: Attrs | undefined, children: Child[]): void {
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) apply(el, undefined, c);
    else el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

/** An HTML element: h('div', { class: 'x' }, 'text', child). */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs?: Attrs,
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  apply(el, attrs, children);
  return el;
}

/** An SVG element. */
export function svg(tag: string, attrs?: Attrs, ...children: Child[]): SVGElement {
  const el = document.createElementNS('http://www.w3.org/2000/svg', tag);
  apply(el, attrs, children);
  return el;
}

/** Replaces an element's children. */
export function mount(el: Element, ...children: Child[]): void {
  el.replaceChildren();
  apply(el, undefined, children);
}

export const fmt = {
  ms: (x: number) => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2)) + ' ms',
  pct: (x: number) => (100 * x).toFixed(1) + '%',
  num: (x: number, d = 3) =>
    Math.abs(x) >= 1000 ? x.toLocaleString('en-US', { maximumFractionDigits: 0 }) : x.toFixed(d),
  money: (x: number) => '$' + x.toFixed(2),
  bytes: (n: number) => (n >= 1 << 20 ? (n / (1 << 20)).toFixed(1) + ' MiB' : (n / 1024).toFixed(1) + ' KiB'),
};

/**
 * Category colours: 24 that stay apart (MovieLens has 20 genres). The first ten are the dashboard's
 * originals; the other fourteen were added one at a time as the colour farthest (CIEDE2000) from all
 * before it, from the grey of an item without a category and from the page, among colours with at
 * least 2:1 contrast on white. Every pair differs by ΔE2000 ≥ 13.8.
 */
export const PALETTE = [
  '#4f7cff',
  '#ff8a3d',
  '#22b07d',
  '#e5484d',
  '#9b6bff',
  '#00a2c7',
  '#f5b700',
  '#d6409f',
  '#6e9f18',
  '#8d6e63',
  '#0a0a76',
  '#235c53',
  '#691632',
  '#696216',
  '#802a00',
  '#005580',
  '#d897a8',
  '#8800cc',
  '#0a7625',
  '#a35f00',
  '#a38800',
  '#ff70ff',
  '#2bcaca',
  '#97add8',
];

/** Category `i`'s colour: the palette, then hues a golden angle apart in two shades (close ones may recur). */
export function colorOf(i: number): string {
  if (i >= 0 && i < PALETTE.length) return PALETTE[i];
  const k = Math.max(0, Math.trunc(i) - PALETTE.length);
  return `hsl(${Math.round((k * 137.508) % 360)} 70% ${k % 2 === 0 ? 38 : 55}%)`;
}
