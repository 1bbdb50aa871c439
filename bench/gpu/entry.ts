// The entry point bundled for the GPU machine (bench/gpu/pack.mjs): the `vireo` CLI, as
// packages/trainer/bin/vireo.mjs runs it from source here.
import { main } from '@vireo/trainer/cli';

process.exitCode = await main(process.argv.slice(2));
