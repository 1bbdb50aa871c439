// Types for the modules @cloudflare/vitest-pool-workers provides inside workerd, limited to what
// the *.workers.test.ts files use (the package's own types need @cloudflare/workers-types).
declare module 'cloudflare:test' {
  export interface D1Migration {
    name: string;
    queries: string[];
  }
  export function applyD1Migrations(
    db: unknown,
    migrations: D1Migration[],
    migrationsTableName?: string,
  ): Promise<void>;
  export function reset(): Promise<void>;
  export function createExecutionContext(): {
    waitUntil(promise: Promise<unknown>): void;
    passThroughOnException(): void;
  };
  export function waitOnExecutionContext(ctx: unknown): Promise<void>;
}
declare module 'cloudflare:workers' {
  export const env: Record<string, unknown>;
  export const exports: { default: { fetch(request: Request | string, init?: RequestInit): Promise<Response> } };
}
