// The hnswlib-wasm graph of the CPU backend, built and searched in a Web Worker (hnsw.ts starts
// it): minutes of building for a large catalogue never block the page's answers.
import * as Comlink from 'comlink';
import { buildHnswHere, type AnnIndex, type HnswWorkerApi } from './hnsw.ts';

let index: AnnIndex | null = null;
const api: HnswWorkerApi = {
  async build(items, N, D) {
    index = await buildHnswHere(items, N, D, () => false, Number.POSITIVE_INFINITY);
  },
  search(u, k, exclude) {
    if (!index) throw new Error('The hnswlib index is not built yet.');
    return index.search(u, k, exclude);
  },
};
Comlink.expose(api);
