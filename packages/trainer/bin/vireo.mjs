#!/usr/bin/env node
// The `vireo` CLI. Registers the TypeScript loader (tsx) and the WGSL `?raw` loader,
// then runs src/cli.ts: the same sources the tests and the browser use, no build step.
import { register } from 'node:module';
import { register as registerTsx } from 'tsx/esm/api';

register('./wgsl-loader.mjs', import.meta.url);
registerTsx();
const { main } = await import('../src/cli.ts');
process.exitCode = await main(process.argv.slice(2));
