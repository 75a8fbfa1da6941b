/**
 * Errors to RFC 9457 problem details (application/problem+json), mapped once for the whole API.
 */
import type { FastifyError } from 'fastify';
import { catalogue, OpenPrumError, type ErrorCode } from '../errors/index.ts';

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: ErrorCode;
  instance?: string;
  [extension: string]: unknown;
}

export const PROBLEM_TYPE_BASE = 'urn:openprum:problem:';

export function problemFrom(code: ErrorCode, detail: string, details?: Readonly<Record<string, unknown>>): Problem {
  const entry = catalogue[code];
  return { type: `${PROBLEM_TYPE_BASE}${code}`, title: entry.title, status: entry.status, detail, code, ...(details ?? {}) };
}

/** Fastify's own errors (parsing, limits, content types, schema validation) as our catalogue's. */
export function toOpenPrumError(err: unknown): OpenPrumError {
  if (err instanceof OpenPrumError) return err;
  const e = err as FastifyError & { validation?: Array<{ instancePath: string; message?: string; keyword: string; params: Record<string, unknown> }>; validationContext?: string };
  if (e.validation && e.validation.length > 0) {
    const v = e.validation[0]!;
    const where = `${e.validationContext ?? 'body'}${v.instancePath ? v.instancePath.replace(/\//g, '.') : ''}`;
    let message = v.message ?? 'is not valid';
    if (v.keyword === 'additionalProperties') message = `has an unknown field ${JSON.stringify(v.params.additionalProperty)}`;
    if (v.keyword === 'required') message = `misses the required field ${JSON.stringify(v.params.missingProperty)}`;
    return new OpenPrumError('input-invalid', `${where} ${message}`, { problems: e.validation.slice(0, 10).map((x) => ({ path: x.instancePath, message: x.message })) });
  }
  switch (e.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new OpenPrumError('input-too-large', 'The request body is larger than this endpoint accepts');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new OpenPrumError('media-type-unsupported', 'Send the body as application/json');
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new OpenPrumError('input-invalid', 'The body is empty; send a JSON object');
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new OpenPrumError('input-invalid', 'The Content-Length header does not match the body');
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return new OpenPrumError('input-invalid', `The body is not valid JSON: ${e.message}`);
    default:
      break;
  }
  if (e instanceof SyntaxError || (e.statusCode === 400 && /JSON/i.test(e.message))) {
    return new OpenPrumError('input-invalid', `The body is not valid JSON: ${e.message}`);
  }
  if (e.statusCode === 404) return new OpenPrumError('not-found', e.message);
  if (e.statusCode === 413) return new OpenPrumError('input-too-large', e.message);
  if (e.statusCode === 415) return new OpenPrumError('media-type-unsupported', 'Send the body as application/json');
  if (e.statusCode && e.statusCode >= 400 && e.statusCode < 500) return new OpenPrumError('input-invalid', e.message);
  return new OpenPrumError('internal', 'Internal error; the request id identifies it in the node log', undefined, { cause: err });
}
