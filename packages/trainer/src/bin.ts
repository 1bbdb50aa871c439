// The entry of the packed `vireo` (vite.build.config.ts); in the repository bin/vireo.mjs runs cli.ts from source.
import { main } from './cli.ts';

process.exitCode = await main(process.argv.slice(2));
