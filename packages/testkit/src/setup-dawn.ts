// Vitest setup for the node project: WebGPU comes from Dawn.
import { installDawn } from '@vireo/trainer/dawn';
installDawn();
