// @vireo/shaders: every WGSL kernel, its bind-group layout and its CPU reference.
export * from './kernel.ts';
export * from './linear.ts';
export * from './testing.ts';
