#!/usr/bin/env node
// The `vireo` CLI: runs src/cli.ts from source (see register.mjs), no build step.
import './register.mjs';

const { main } = await import('../src/cli.ts');
process.exitCode = await main(process.argv.slice(2));
