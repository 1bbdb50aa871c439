// copy: the bandwidth yardstick (see copy.wgsl).
import source from './copy.wgsl?raw';
import { defineKernel } from '../kernel.ts';

/** dst = src over n4 vec4 elements; workgroups = ceil(n4 / 256). */
export const copyKernel = defineKernel({
  name: 'copy',
  source,
  entryPoint: 'main',
  bindings: [
    { name: 'src', kind: 'read' },
    { name: 'dst', kind: 'write' },
  ],
  params: [['n4', 'u32']],
  overrides: { WG: 256 },
});
