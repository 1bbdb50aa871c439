// `vireo token --sub ID --scope "features:read events:write" --ttl 1h`: a token for development,
// signed with the edge's secret ($VIREO_JWT_SECRET, else the development secret that `vireo-edge
// --dev` keeps in its data folder). The edge's own command does the work (docs/tokens.md).
import { CliError, tokenCommand } from '@vireo/edge-worker/cli';
import { SecretError } from '@vireo/edge-worker/node';
import { UsageError } from '../cli/args.ts';

const HELP = `usage: vireo token --sub ID [--scope "S1 S2"] [--ttl 1h] [--data DIR] [--iss ISSUER] [--aud AUDIENCE]

Prints a token for the edge, signed with $VIREO_JWT_SECRET (else the --dev secret in DIR, default ./.vireo).
  --sub ID       the user the token acts for (required)
  --scope "…"    space-separated scopes (default "features:read events:write"); "service" acts for any
                 user (backends only), "models:publish" publishes models
  --ttl 1h       lifetime: 90 (seconds), 30m, 1h, 2d (default 1h)
In production, mint visitors' tokens on the web app's backend (docs/tokens.md).
`;

export async function run(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(HELP);
    return 0;
  }
  try {
    return await tokenCommand(argv);
  } catch (err) {
    if (err instanceof CliError || err instanceof SecretError) throw new UsageError(err.message);
    throw err;
  }
}
