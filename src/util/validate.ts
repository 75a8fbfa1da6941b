/**
 * Validation of outside input against a TypeBox schema, with one clear error naming the field and
 * what is wrong with it (the first problem found; TypeBox lists union alternatives separately, so the
 * most specific message is chosen).
 */
import type { Static, TSchema } from 'typebox';
import { Compile } from 'typebox/compile';
import Value from 'typebox/value';
import { OpenPrumError, type ErrorCode } from '../errors/index.ts';

export interface ValidationProblem {
  readonly path: string;
  readonly message: string;
}

export function describeProblems(schema: TSchema, value: unknown): ValidationProblem[] {
  const problems: ValidationProblem[] = [];
  for (const e of Value.Errors(schema, value)) {
    const err = e as { keyword: string; instancePath: string; message: string; params: Record<string, unknown> };
    // "schema is false" repeats what additionalProperties says; anyOf/const repeat union alternatives.
    if (err.keyword === 'boolean') continue;
    const path = err.instancePath.replace(/^\//, '').replace(/\//g, '.') || '(body)';
    let message = err.message;
    if (err.keyword === 'additionalProperties') {
      const extra = (err.params.additionalProperties as string[] | undefined) ?? [];
      message = `unknown field${extra.length > 1 ? 's' : ''} ${extra.map((f) => JSON.stringify(f)).join(', ')}`;
    } else if (err.keyword === 'required') {
      const missing = (err.params.requiredProperties as string[] | undefined) ?? [];
      message = `missing required field${missing.length > 1 ? 's' : ''} ${missing.map((f) => JSON.stringify(f)).join(', ')}`;
    } else if (err.keyword === 'const') {
      continue;
    } else if (err.keyword === 'anyOf') {
      message = 'is not one of the allowed values';
    }
    problems.push({ path, message });
  }
  return problems;
}

// Compiled validators, one per schema object: about fifty times faster than interpreting the schema,
// which matters on imports of millions of rows.
const compiled = new WeakMap<TSchema, { Check(value: unknown): boolean }>();

/** True when the value matches the schema (compiled once per schema). */
export function check<S extends TSchema>(schema: S, value: unknown): value is Static<S> {
  let validator = compiled.get(schema);
  if (!validator) {
    validator = Compile(schema);
    compiled.set(schema, validator);
  }
  return validator.Check(value);
}

/** Returns the value typed by the schema, or throws `code` naming what is wrong. */
export function validate<S extends TSchema>(schema: S, value: unknown, code: ErrorCode, where = ''): Static<S> {
  if (check(schema, value)) return value as Static<S>;
  const problems = describeProblems(schema, value);
  const first = problems[0] ?? { path: '(body)', message: 'does not match the expected shape' };
  const prefix = where ? `${where}: ` : '';
  throw new OpenPrumError(code, `${prefix}${first.path === '(body)' ? '' : `field ${first.path} `}${first.message}`.trim(), {
    problems: problems.slice(0, 10),
  });
}

/**
 * A free-text field that a record must hold (a reason, who ordered a search): trimmed, not empty, at
 * most `max` characters, no control characters.
 */
export function requiredText(field: string, value: string, max: number, code: ErrorCode = 'input-invalid'): string {
  const v = value.trim();
  if (v.length === 0) throw new OpenPrumError(code, `${field} must not be empty: the record must say it (Prüm Decision Art. 30(2)(b))`, { field });
  if (v.length > max) throw new OpenPrumError(code, `${field} is longer than ${max} characters`, { field });
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(v)) throw new OpenPrumError(code, `${field} must not contain control characters`, { field });
  return v;
}
