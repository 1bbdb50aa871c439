// What every route module gets from createApp.
import type { OpenAPIHono } from '@hono/zod-openapi';
import type { Principal } from '../auth/jwt.ts';
import type { SpecResolver } from '../features/spec.ts';
import type { EdgeMetrics } from '../metrics.ts';
import type { ManifestParser } from '../registry/manifest.ts';
import type { RealtimeOptions, Storage } from '../storage/types.ts';

export type AppVariables = { requestId: string; principal: Principal; unmatched: boolean };
export type AppEnv = { Variables: AppVariables };
export type EdgeApp = OpenAPIHono<AppEnv>;

/** Size and count limits of the API. */
export type Limits = {
  /** POST /v1/events body, bytes. */
  eventsBodyBytes: number;
  /** POST /v1/features/push body, bytes. */
  pushBodyBytes: number;
  /** POST /v1/features/online body, bytes. */
  onlineBodyBytes: number;
  /** PUT manifest.json body, bytes (vocabularies live there). */
  manifestBytes: number;
  /** Largest answer of a feature read or lookup, bytes (estimated before it is built). */
  responseBytes: number;
  /** Values (rows × distinct features) one POST /v1/features/online may ask for. */
  onlineCells: number;
  /** Feature values one POST /v1/features/push may write (validated and written on the event loop). */
  pushValues: number;
  /** Longest `maxLength` of a multi-hot or sequence feature in a manifest. */
  maxSequenceLength: number;
  /** Most values in one vocabulary of a manifest, and in all of them together. */
  maxVocabulary: number;
  maxVocabularyTotal: number;
  /** Largest model file, bytes. */
  modelFileBytes: number;
  /** Events may be at most this far in the future, ms. */
  maxEventFutureMs: number;
};

export type RouteDeps = {
  storage: Storage;
  specs: SpecResolver;
  metrics: EdgeMetrics;
  realtime: RealtimeOptions;
  limits: Limits;
  /** Parses manifests (on a worker thread on Node). */
  parseManifest: ManifestParser;
  now: () => number;
};

/** Parses an API timestamp (ms since the epoch, or ISO 8601) to ms. */
export const toMillis = (ts: number | string): number => (typeof ts === 'number' ? ts : Date.parse(ts));

/** Security requirement for the OpenAPI document. */
export const bearer = (scope: string) => [{ bearerAuth: [scope] }];
