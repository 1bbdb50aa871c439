// `node --import @vireo/trainer/register` (or this file): TypeScript via tsx, and the WGSL
// `?raw` loader, so Node runs the same sources as the tests and the browser.
import { register } from 'node:module';
import { register as registerTsx } from 'tsx/esm/api';

register('./wgsl-loader.mjs', import.meta.url);
registerTsx();
