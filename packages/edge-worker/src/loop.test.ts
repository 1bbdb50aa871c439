// The training loop's edge cases on Node (SQLite + files).
import { runLoopCases } from './loop.case.ts';
import { nodeTestApp } from '../test/node-test-app.ts';

runLoopCases('node (sqlite + files)', async (now) => {
  const t = nodeTestApp({ now });
  return { app: t.app, cleanup: t.cleanup };
});
