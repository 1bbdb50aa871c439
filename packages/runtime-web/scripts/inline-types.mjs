// After `tsc -p tsconfig.build.json` (dist/types/<package>/src/…): the declarations of the private
// workspace packages the library bundles (@vireo/core, @vireo/kernels, @vireo/models) ship inside
// dist/types, so every `@vireo/…` import of a declaration file becomes a relative path to them and
// a consumer's type check needs nothing but this package and its dependencies; relative imports
// end in .js.
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const types = fileURLToPath(new URL('../dist/types', import.meta.url));
const targets = {
  '@vireo/core': 'core/src/index.d.ts',
  '@vireo/kernels': 'kernels/src/index.d.ts',
  '@vireo/kernels/gpu': 'kernels/src/gpu/index.d.ts',
  '@vireo/models': 'models/src/index.d.ts',
};
const walk = (d) =>
  readdirSync(d).flatMap((n) => (statSync(join(d, n)).isDirectory() ? walk(join(d, n)) : [join(d, n)]));
let left = 0;
for (const file of walk(types).filter((p) => p.endsWith('.d.ts'))) {
  const text = readFileSync(file, 'utf8');
  const out = text.replace(/(from |import\()(['"])(@vireo\/[\w/-]+)\2/g, (all, lead, q, spec) => {
    const target = targets[spec];
    if (!target) return all;
    let rel = relative(dirname(file), join(types, target)).replace(/\.d\.ts$/, '.js');
    if (!rel.startsWith('.')) rel = `./${rel}`;
    return `${lead}${q}${rel}${q}`;
  });
  // Relative imports keep the sources' .ts extensions; .js is what every resolution mode reads.
  const outJs = out.replace(/(from |import\()(['"])(\.{1,2}\/[^'"]+)\.ts\2/g, '$1$2$3.js$2');
  left += (outJs.match(/['"]@vireo\//g) ?? []).length;
  if (outJs !== text) writeFileSync(file, outJs);
}
// The public types name WebGPU's (GPUDevice, GPUBuffer…). TypeScript 6 and later declare them in lib.dom, and
// @webgpu/types beside that is 150 duplicate identifiers (with skipLibCheck off); TypeScript 5 has none of them.
// So TypeScript < 6 is given an entry that adds @webgpu/types (a dependency) and 6+ the plain one: package.json's
// publishConfig picks by version (`types@<6` in exports, typesVersions for the old resolution).
writeFileSync(
  join(types, 'runtime-web/src/with-webgpu-types.d.ts'),
  '/// <reference types="@webgpu/types" />\nexport * from \'./index.js\';\n',
);
if (left > 0) {
  console.error(`inline-types: ${left} import(s) of an unlisted @vireo/ package are left in dist/types.`);
  process.exit(1);
}
