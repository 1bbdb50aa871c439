// Every error the edge answers has one shape: { error: { code, message, details } }.
// Client mistakes are 4xx with a stable `code`; a 500 means a bug in the edge, never bad input.
import type { ContentfulStatusCode } from 'hono/utils/http-status';

/** The stable error codes of the edge API, with the HTTP status each one answers. */
export const ERROR_STATUS = {
  invalid_request: 400,
  invalid_json: 400,
  invalid_utf8: 400,
  too_deep: 400,
  invalid_events: 400,
  unauthorized: 401,
  invalid_token: 401,
  token_expired: 401,
  insufficient_scope: 403,
  forbidden_user: 403,
  cors_not_allowed: 403,
  not_found: 404,
  model_not_found: 404,
  version_not_found: 404,
  file_not_found: 404,
  method_not_allowed: 405,
  conflict: 409,
  version_exists: 409,
  version_deleted: 409,
  incomplete_version: 409,
  nothing_to_roll_back: 409,
  version_promoted: 409,
  rollback_target: 409,
  payload_too_large: 413,
  too_much_work: 413,
  unsupported_media_type: 415,
  range_not_satisfiable: 416,
  unknown_feature: 422,
  spec_violation: 422,
  checksum_mismatch: 422,
  size_mismatch: 422,
  invalid_manifest: 422,
  invalid_bundle: 422,
  rate_limited: 429,
  internal: 500,
  unavailable: 503,
} as const satisfies Record<string, ContentfulStatusCode>;

export type ErrorCode = keyof typeof ERROR_STATUS;

/** The JSON body of every error response. */
export type ErrorBody = { error: { code: ErrorCode; message: string; details: unknown } };

/**
 * An error with an HTTP status and a stable code; thrown anywhere in a handler, it becomes the response.
 * @example throw new ApiError('version_not_found', `Model 'ranker' has no version '7'.`);
 */
export class ApiError extends Error {
  readonly status: ContentfulStatusCode;
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details: unknown = null,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'ApiError';
    this.status = ERROR_STATUS[code];
  }

  /** The response body. */
  body(): ErrorBody {
    return { error: { code: this.code, message: this.message, details: this.details } };
  }
}

/** Builds an error body without throwing (for middleware that answers directly). */
export function errorBody(code: ErrorCode, message: string, details: unknown = null): ErrorBody {
  return { error: { code, message, details } };
}

/** Maps a non-ApiError status (e.g. a Hono HTTPException) to the closest code. */
export function codeForStatus(status: number): ErrorCode {
  switch (status) {
    case 400:
      return 'invalid_request';
    case 401:
      return 'unauthorized';
    case 403:
      return 'insufficient_scope';
    case 404:
      return 'not_found';
    case 405:
      return 'method_not_allowed';
    case 409:
      return 'conflict';
    case 413:
      return 'payload_too_large';
    case 415:
      return 'unsupported_media_type';
    case 416:
      return 'range_not_satisfiable';
    case 429:
      return 'rate_limited';
    case 503:
      return 'unavailable';
    default:
      return status >= 500 ? 'internal' : 'invalid_request';
  }
}
