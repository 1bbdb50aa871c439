// The `vireo` command line: one module per command under ./commands, each exporting
// `run(argv): Promise<number>` (the exit code). User mistakes are one sentence and exit 2.
import { readFileSync } from 'node:fs';
import { UsageError } from './cli/args.ts';
import { reportCpuAtExit } from './cli/progress.ts';

type Command = { summary: string; load: () => Promise<{ run(argv: string[]): Promise<number> }> };

const COMMANDS: Record<string, Command> = {
  start: {
    summary:
      'bring Vireo up here: data → train retrieval and ranking → ' +
      'publish to a local edge → edge + demo dashboard (`vireo start --help`)',
    load: () => import('./commands/start.ts'),
  },
  bench: {
    summary:
      'benchmarks: `vireo bench kernels` times every kernel beside its ' +
      'CPU reference; `vireo bench train` training samples/s beside PyTorch',
    load: () => import('./commands/bench.ts'),
  },
  ingest: {
    summary: 'raw logs (MovieLens, Criteo, CSV/JSONL/Parquet + spec) or a synthetic world → a dataset folder',
    load: () => import('./commands/ingest.ts'),
  },
  train: {
    summary:
      'train a model on a dataset folder and write a bundle: `vireo train retrieval|ranking --data DIR --out DIR`',
    load: () => import('./commands/train.ts'),
  },
  eval: {
    summary:
      'evaluate a bundle against baselines on the held-out ' +
      'split: `vireo eval retrieval|ranking --data DIR --bundle DIR`',
    load: () => import('./commands/eval.ts'),
  },
  predict: {
    summary: "score raw rows with a bundle's ranker (WGSL forward): `vireo predict --bundle DIR --input FILE [--json]`",
    load: () => import('./commands/predict.ts'),
  },
  publish: {
    summary: "upload a bundle folder to an edge's model registry (--bundle DIR --edge URL --token T [--promote])",
    load: () => import('./commands/publish.ts'),
  },
  history: {
    summary:
      "send a dataset's past positives to an edge, so it knows each user's recent items from the first visit " +
      '(--data DIR --edge URL --token T)',
    load: () => import('./commands/history.ts'),
  },
  refresh: {
    summary:
      "close the loop: the edge's new events → warm-started models → compared on the latest events → " +
      'published, promoted if not worse (`vireo refresh --help`)',
    load: () => import('./commands/refresh.ts'),
  },
  token: {
    summary: 'mint a token for development: `vireo token --sub ID --scope "features:read events:write" --ttl 1h`',
    load: () => import('./commands/token.ts'),
  },
  doctor: {
    summary: 'show the WebGPU adapter and check every kernel against its CPU reference',
    load: () => import('./commands/doctor.ts'),
  },
};

/** The help text listing every command. */
export function usage(): string {
  const lines = Object.entries(COMMANDS).map(([name, c]) => `  vireo ${name.padEnd(10)} ${c.summary}`);
  return `usage: vireo <command> [flags]   (vireo --version prints the version)\n\ncommands:\n${lines.join('\n')}\n`;
}

/** Runs the CLI with `argv` (without node and script) and returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === '--version' || name === '-v' || name === 'version') {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
    process.stdout.write(`vireo ${pkg.version}\n`);
    return 0;
  }
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage());
    return name ? 0 : 2;
  }
  const command = COMMANDS[name];
  if (!command) {
    process.stderr.write(`vireo: unknown command '${name}': expected one of ${Object.keys(COMMANDS).join(', ')}.\n`);
    return 2;
  }
  reportCpuAtExit();
  try {
    const mod = await command.load();
    return await mod.run(rest);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`vireo ${name}: ${err.message}\n`);
      return err.exitCode;
    }
    throw err;
  }
}
