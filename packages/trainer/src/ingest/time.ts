// Event times arrive as unix seconds, unix milliseconds or ISO dates; datasets hold unix seconds.

/** Above this a numeric time is taken as milliseconds (1e11 s is the year 5138). */
const MILLISECONDS_FROM = 1e11;

/**
 * Parses an event time to unix seconds, NaN when it is not a time.
 * @example parseTime('964982703') // 964982703; parseTime('2024-06-01T12:00:00Z') // 1717243200
 */
export function parseTime(raw: unknown): number {
  if (typeof raw === 'number') return raw > MILLISECONDS_FROM ? raw / 1000 : raw;
  if (typeof raw !== 'string') return NaN;
  const text = raw.trim();
  if (text === '') return NaN;
  const n = Number(text);
  if (Number.isFinite(n)) return n > MILLISECONDS_FROM ? n / 1000 : n;
  const ms = Date.parse(text);
  return Number.isFinite(ms) ? ms / 1000 : NaN;
}
