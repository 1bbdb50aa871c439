// Parsing a manifest off the event loop on Node (docs/ARCHITECTURE.md, "Bounded work"): a 4 MiB
// manifest is ~40-100 ms of JSON.parse here, more than /healthz may wait, so a worker thread parses
// it and sends back the manifest without its vocabularies' values (their sizes only) for the
// upload's checks, or whole for the spec a transformed read needs. Workers run it inline.
import { Worker } from 'node:worker_threads';
import type { ManifestParser, ParsedManifest } from './registry/manifest.ts';

// Plain JavaScript: the worker runs without the TypeScript loader.
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
parentPort.on('message', ({ id, text, whole }) => {
  let raw;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    parentPort.postMessage({ id, error: 'not valid JSON (' + String(err.message).slice(0, 200) + ')' });
    return;
  }
  if (whole || !raw || typeof raw !== 'object' || Array.isArray(raw)) {
    parentPort.postMessage({ id, value: raw });
    return;
  }
  // No prototype: a vocabulary named '__proto__' stays a key, for readManifest to refuse.
  const sizes = Object.create(null);
  const v = raw.vocabularies;
  if (v !== undefined) {
    if (!v || typeof v !== 'object' || Array.isArray(v)) {
      parentPort.postMessage({ id, error: 'vocabularies: expected an object of name → list of strings.' });
      return;
    }
    for (const [name, values] of Object.entries(v)) {
      if (!Array.isArray(values) || values.some((x) => typeof x !== 'string')) {
        parentPort.postMessage({ id, error: 'vocabularies.' + name + ': expected a list of strings.' });
        return;
      }
      sizes[name] = values.length;
    }
  }
  delete raw.vocabularies;
  parentPort.postMessage({ id, value: raw, vocabularySizes: sizes });
});
`;

/**
 * A manifest parser on a worker thread (started on first use, unref'd); `close` stops it.
 * @example const parser = workerManifestParser(); createApp({ ..., parseManifest: parser.parse });
 */
export function workerManifestParser(): { parse: ManifestParser; close: () => Promise<void> } {
  let worker: Worker | null = null;
  let next = 0;
  const waiting = new Map<number, { ok: (v: ParsedManifest) => void; fail: (e: Error) => void }>();
  const start = () => {
    const w = new Worker(WORKER_SOURCE, { eval: true });
    w.unref();
    w.on('message', (m: { id: number; value?: unknown; vocabularySizes?: Record<string, number>; error?: string }) => {
      const entry = waiting.get(m.id);
      waiting.delete(m.id);
      if (!entry) return;
      entry.ok(m.error !== undefined ? { error: m.error } : { value: m.value, vocabularySizes: m.vocabularySizes });
    });
    w.on('error', (err) => {
      for (const e of waiting.values()) e.fail(err);
      waiting.clear();
      worker = null;
    });
    return w;
  };
  return {
    parse(text, whole) {
      worker ??= start();
      const id = next++;
      return new Promise<ParsedManifest>((ok, fail) => {
        waiting.set(id, { ok, fail });
        worker!.postMessage({ id, text, whole });
      });
    },
    async close() {
      await worker?.terminate();
      worker = null;
    },
  };
}
