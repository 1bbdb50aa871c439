#!/usr/bin/env node
// `vireo-edge`: registers the TypeScript loader (tsx) and runs src/cli.ts, the same sources the
// tests use, no build step.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/cli.ts');
const code = await main(process.argv.slice(2));
if (code !== null) process.exitCode = code;
