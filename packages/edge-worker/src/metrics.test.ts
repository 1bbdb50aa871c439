import { describe, expect, it } from 'vitest';
import { Counter, Histogram } from './metrics.ts';

describe('Prometheus text', () => {
  it('renders counters with escaped labels', () => {
    const c = new Counter('x_total', 'Things.', ['route']);
    c.inc({ route: '/a"b\\c\nd' }, 2);
    c.inc({ route: '/a"b\\c\nd' });
    expect(c.render()).toBe('# HELP x_total Things.\n# TYPE x_total counter\nx_total{route="/a\\"b\\\\c\\nd"} 3');
  });
  it('renders cumulative histogram buckets, +Inf, sum and count', () => {
    const h = new Histogram('t_seconds', 'Time.', ['r'], [0.1, 1]);
    h.observe({ r: 'a' }, 0.05);
    h.observe({ r: 'a' }, 0.5);
    h.observe({ r: 'a' }, 5);
    expect(h.render().split('\n').slice(2)).toEqual([
      't_seconds_bucket{r="a",le="0.1"} 1',
      't_seconds_bucket{r="a",le="1"} 2',
      't_seconds_bucket{r="a",le="+Inf"} 3',
      't_seconds_sum{r="a"} 5.55',
      't_seconds_count{r="a"} 3',
    ]);
  });
});
