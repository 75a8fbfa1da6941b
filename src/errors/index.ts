import { catalogue, type ErrorCode } from './catalogue.ts';

export { catalogue, type ErrorCode } from './catalogue.ts';

/**
 * The one error type of the project. Capabilities throw it with a stable code and a message that
 * says what was wrong and what to do; the HTTP layer turns it into problem+json and the CLI into a
 * message and an exit code. `details` carries machine-readable specifics (a line number, a field).
 */
export class OpenPrumError extends Error {
  readonly code: ErrorCode;
  readonly details: Readonly<Record<string, unknown>> | undefined;

  constructor(code: ErrorCode, message: string, details?: Record<string, unknown>, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'OpenPrumError';
    this.code = code;
    this.details = details;
  }

  get status(): number {
    return catalogue[this.code].status;
  }

  get exitCode(): number {
    return catalogue[this.code].exit;
  }

  get title(): string {
    return catalogue[this.code].title;
  }
}

export function isOpenPrumError(e: unknown): e is OpenPrumError {
  return e instanceof OpenPrumError;
}
