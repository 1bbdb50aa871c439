import { env } from 'cloudflare:workers';
import { it, expect } from 'vitest';
it('d1', async () => {
  const e = env as any;
  await e.DB.exec('CREATE TABLE t (a INTEGER)');
  await e.DB.prepare('INSERT INTO t VALUES (?)').bind(3).run();
  const r = await e.DB.prepare('SELECT a FROM t').all();
  expect(r.results).toEqual([{ a: 3 }]);
  await e.KV.put('k', 'v'); expect(await e.KV.get('k')).toBe('v');
  await e.R2.put('o', 'hello'); expect(await (await e.R2.get('o')).text()).toBe('hello');
});
