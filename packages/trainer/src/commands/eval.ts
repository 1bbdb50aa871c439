// `vireo eval retrieval|ranking`: evaluates a bundle on a dataset's held-out split against the
// baselines computed in the same run.
import { UsageError } from '../cli/args.ts';
import { loadRanking } from './train.ts';

const MODELS = ['retrieval', 'ranking'] as const;

export async function run(argv: string[]): Promise<number> {
  const [model, ...rest] = argv;
  if (model === '--help' || model === '-h') {
    process.stdout.write(
      `usage: vireo eval retrieval|ranking [flags]   (\`vireo eval retrieval --help\` for the flags)\n`,
    );
    return 0;
  }
  if (model === 'retrieval') return (await import('../eval/retrieval-report.ts')).evalRetrieval(rest);
  if (model === 'ranking') return (await loadRanking()).evalRanking(rest);
  throw new UsageError(
    model === undefined || model.startsWith('-')
      ? `which model? expected one of ${MODELS.join(', ')} (e.g. vireo eval retrieval --data DIR --bundle DIR).`
      : `unknown model '${model}': expected one of ${MODELS.join(', ')}.`,
  );
}
