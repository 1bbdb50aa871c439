// @vireo/runtime-web: the on-device engine — createEngine / createEngineWorker and what a web app
// needs around them. The kernels are @vireo/kernels, the models @vireo/models.
export * from './engine/index.ts';
