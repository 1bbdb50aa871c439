// The published `vireo-edge` (dist/node/vireo-edge.js, built by vite.node.config.ts): the same CLI
// as bin/vireo-edge.mjs, which runs these sources with tsx inside the workspace.
import { main } from './cli.ts';

const code = await main(process.argv.slice(2));
if (code !== null) process.exitCode = code;
