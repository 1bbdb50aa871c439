export * from './gpu.ts';
export * from './timer.ts';
export * from './once.ts';
