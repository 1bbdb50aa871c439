// `vireo publish --bundle DIR --edge URL --token T [--promote]`: uploads an exported bundle to the
// edge's model registry (manifest.json first, which creates the version, then every file it
// lists) and prints the version. Files are checked against the manifest here first, uploads skip
// what the edge already has (a re-run resumes), and the edge checks every sha256 again.
import { createReadStream, existsSync, openAsBlob, readFileSync, statSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join, resolve } from 'node:path';
import { SpecError, parseBundleManifest, type BundleManifest } from '@vireo/core';
import { UsageError, numberFlag, parseFlags } from '../cli/args.ts';
import { edgeBase, edgeClient } from '../cli/edge.ts';
import { progress } from '../cli/progress.ts';

const FLAGS = {
  bundle: { type: 'string' },
  edge: { type: 'string' },
  token: { type: 'string' },
  promote: { type: 'boolean' },
  json: { type: 'boolean' },
  quiet: { type: 'boolean' },
  retries: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

const HELP = `usage: vireo publish --bundle DIR --edge URL --token TOKEN [--promote] [flags]

Uploads a bundle folder (manifest.json and the files it lists) to an edge's model registry.
  --bundle DIR      the exported bundle folder
  --edge URL        the edge, e.g. http://127.0.0.1:8787 (or $VIREO_EDGE_URL)
  --token TOKEN     a token with the models:publish scope (or $VIREO_EDGE_TOKEN)
  --promote         make this version the one /v1/models/NAME/latest serves
  --retries N       attempts per request on network errors, 429 and 5xx (default 4)
  --json            print the result as JSON on stdout
  --quiet           no progress bar
`;

function sha256File(path: string): Promise<string> {
  return new Promise((ok, fail) => {
    const hash = createHash('sha256');
    createReadStream(path)
      .on('data', (chunk) => hash.update(chunk))
      .on('error', fail)
      .on('end', () => ok(hash.digest('hex')));
  });
}

/** Checks every listed file against the manifest before anything is sent. */
async function checkLocalFiles(dir: string, manifest: BundleManifest): Promise<void> {
  for (const f of manifest.files) {
    const path = join(dir, f.name);
    if (!existsSync(path)) throw new UsageError(`${f.name} is listed in manifest.json but missing from ${dir}.`);
    const size = statSync(path).size;
    if (size !== f.bytes)
      throw new UsageError(`${f.name} is ${size} bytes but manifest.json says ${f.bytes}: re-export the bundle.`);
    const sha = await sha256File(path);
    if (sha !== f.sha256)
      throw new UsageError(`${f.name} has sha256 ${sha} but manifest.json says ${f.sha256}: re-export the bundle.`);
  }
}

export async function run(argv: string[]): Promise<number> {
  const { values } = parseFlags(argv, FLAGS, 'vireo publish');
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  const bundleDir = values.bundle;
  const token = values.token ?? process.env.VIREO_EDGE_TOKEN;
  if (!bundleDir) throw new UsageError('--bundle DIR is required (the folder holding manifest.json).');
  const base = edgeBase(values.edge ?? process.env.VIREO_EDGE_URL);
  if (!token)
    throw new UsageError(
      '--token is required: a token with the models:publish scope (vireo-edge token --scope models:publish).',
    );
  const attempts = numberFlag(values.retries, 'retries', 4, { integer: true, min: 1, max: 20 });

  const dir = resolve(bundleDir);
  const manifestPath = join(dir, 'manifest.json');
  if (!existsSync(manifestPath))
    throw new UsageError(
      `${dir} has no manifest.json: pass a bundle folder (vireo train retrieval --out or vireo train ranking --out ` +
        'writes one).',
    );
  const manifestBytes = readFileSync(manifestPath);
  let manifest: BundleManifest;
  try {
    manifest = parseBundleManifest(manifestBytes.toString('utf8'));
  } catch (err) {
    if (err instanceof SpecError) throw new UsageError(`${manifestPath}: ${err.message}`);
    throw err;
  }
  await checkLocalFiles(dir, manifest);

  const call = edgeClient(base, token, attempts);
  const { name, version } = manifest;
  const at = `/v1/models/${encodeURIComponent(name)}/${encodeURIComponent(version)}`;
  const created = await call(
    `${at}/manifest.json`,
    { method: 'PUT', headers: { 'content-type': 'application/json' }, body: manifestBytes },
    `uploading manifest.json of ${name}@${version}`,
    [200, 201],
  );
  const { missing } = (await created.json()) as { missing: string[] };
  const toUpload = manifest.files.filter((f) => missing.includes(f.name));
  const totalBytes = toUpload.reduce((n, f) => n + f.bytes, 0);
  const bar = progress(`publish ${name}@${version}`, totalBytes, {
    quiet: values.quiet || values.json,
    unit: 'bytes',
  });
  let sent = 0;
  for (const f of toUpload) {
    const body = await openAsBlob(join(dir, f.name));
    await call(
      `${at}/${f.name.split('/').map(encodeURIComponent).join('/')}`,
      { method: 'PUT', headers: { 'content-type': 'application/octet-stream' }, body },
      `uploading ${f.name}`,
      [200, 201],
    );
    sent += f.bytes;
    bar.update(sent, { file: f.name });
  }
  bar.finish();
  let promoted: { previous: string | null } | null = null;
  if (values.promote) {
    const res = await call(`${at}/promote`, { method: 'POST' }, `promoting ${name}@${version}`, [200]);
    promoted = (await res.json()) as { previous: string | null };
  }
  const result = {
    name,
    version,
    edge: base,
    uploaded: toUpload.map((f) => f.name),
    skipped: manifest.files.filter((f) => !missing.includes(f.name)).map((f) => f.name),
    bytes: totalBytes,
    promoted: promoted !== null,
    previous: promoted?.previous ?? null,
  };
  if (values.json) {
    process.stdout.write(`${JSON.stringify(result)}\n`);
  } else {
    const mb = (totalBytes / 1e6).toFixed(1);
    process.stdout.write(
      `published ${name}@${version} to ${base}: ${result.uploaded.length} ` +
        `file(s) uploaded (${mb} MB), ${result.skipped.length} already there\n`,
    );
    if (promoted)
      process.stdout.write(`promoted ${name}@${version}${promoted.previous ? ` (was ${promoted.previous})` : ''}\n`);
    process.stdout.write(`${version}\n`);
  }
  return 0;
}
