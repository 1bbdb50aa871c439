// Vitest setup for the node project: WebGPU comes from Dawn.
import { installDawn } from './dawn.ts';
installDawn();
