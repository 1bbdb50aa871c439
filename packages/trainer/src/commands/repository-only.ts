// What `vireo start` and `vireo bench` say in the installed CLI (the packed package, see
// vite.build.config.ts): they drive the repository itself — the demo dashboard of apps/demo, the
// PyTorch and browser peers of bench/ — so they run only inside a clone.
import { UsageError } from '../cli/args.ts';

const WHAT = {
  start: 'serves the demo dashboard of apps/demo, so it runs in a clone of the Vireo repository (`npm start` there)',
  bench:
    'times the kernels beside the peers of bench/, so it runs in a clone of the Vireo repository (`npm run bench`)',
} as const;

/** A command that exists only in a clone of the repository: one sentence, exit 2. */
export function repositoryOnly(name: keyof typeof WHAT): Promise<number> {
  throw new UsageError(`this command ${WHAT[name]}; the installed CLI has every other command (vireo --help).`);
}
