// The app over a fresh SQLite data folder, for the Node tests.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createApp, type AppOptions } from '../src/app.ts';
import { hs256Verifier } from '../src/auth/jwt.ts';
import { EdgeMetrics } from '../src/metrics.ts';
import type { LogRecord } from '../src/middleware/request-log.ts';
import { openSqliteStorage } from '../src/storage/sqlite.ts';
import { NOW, TEST_SECRET } from './helpers.ts';

/** A test app on a temporary SQLite folder; `logs` collects request logs; call `cleanup`. */
export function nodeTestApp(options: Partial<AppOptions> = {}) {
  const dataDir = mkdtempSync(join(tmpdir(), 'vireo-edge-app-'));
  const storage = openSqliteStorage({ dataDir });
  const logs: LogRecord[] = [];
  const metrics = new EdgeMetrics();
  let now = NOW;
  const app = createApp({
    storage,
    verifier: hs256Verifier(TEST_SECRET, { now: () => now }),
    log: (r) => logs.push(r),
    metrics,
    now: () => now,
    ...options,
  });
  return {
    app,
    storage,
    logs,
    metrics,
    dataDir,
    setNow: (t: number) => {
      now = t;
    },
    cleanup: async () => {
      await storage.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
