// `vireo train retrieval|ranking`: dispatches to the model's trainer (loaded on demand: each pulls
// in its own kernels and data code).
import { UsageError } from '../cli/args.ts';

const MODELS = ['retrieval', 'ranking'] as const;

/** Loads the ranking trainer (on demand: it pulls in the ranking model's kernels and data code). */
export function loadRanking(): Promise<{
  trainRanking(argv: string[]): Promise<number>;
  evalRanking(argv: string[]): Promise<number>;
}> {
  return import('../ranking/index.ts');
}

export async function run(argv: string[]): Promise<number> {
  const [model, ...rest] = argv;
  if (model === '--help' || model === '-h') {
    process.stdout.write(
      `usage: vireo train retrieval|ranking [flags]   (\`vireo train retrieval --help\` for the flags)\n`,
    );
    return 0;
  }
  if (model === 'retrieval') return (await import('../retrieval/index.ts')).trainRetrieval(rest);
  if (model === 'ranking') return (await loadRanking()).trainRanking(rest);
  throw new UsageError(
    model === undefined || model.startsWith('-')
      ? `which model? expected one of ${MODELS.join(', ')} (e.g. vireo train retrieval --data DIR --out DIR).`
      : `unknown model '${model}': expected one of ${MODELS.join(', ')}.`,
  );
}
