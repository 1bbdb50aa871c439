// @vireo/runtime-web: the on-device engine.
export * from './gpu/index.ts';
export * from './ops/linear.ts';
export { KERNEL_CHECKS, type KernelCheck, type CheckResult } from './selfcheck/index.ts';
