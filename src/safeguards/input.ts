/** Checks of officers' free text and dates for the safeguards (the record must say what was decided and why). */
import { OpenPrumError, isOpenPrumError } from '../errors/index.ts';
import type { OfficerCaller } from '../identity/caller.ts';
import { writeRecord } from '../audit/records.ts';
import { NCP, type SafeguardsContext } from './context.ts';

/** A required free text: trimmed, not empty, at most `max` characters, no control characters but line breaks. */
export function text(field: string, value: unknown, max: number): string {
  if (typeof value !== 'string' || value.trim().length === 0) {
    throw new OpenPrumError('safeguards-invalid', `${field} is required and must not be empty: the record must say it`, { field });
  }
  const v = value.trim();
  if (v.length > max) throw new OpenPrumError('safeguards-invalid', `${field} is longer than ${max} characters (${v.length})`, { field });
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/.test(v)) throw new OpenPrumError('safeguards-invalid', `${field} must not contain control characters`, { field });
  return v;
}

export function optionalText(field: string, value: unknown, max: number): string | null {
  return value === undefined || value === null ? null : text(field, value, max);
}

/** A calendar date YYYY-MM-DD. */
export function date(field: string, value: unknown): string {
  const s = typeof value === 'string' ? value : '';
  const d = new Date(`${s}T00:00:00Z`);
  if (!/^\d{4}-\d{2}-\d{2}$/.test(s) || Number.isNaN(d.getTime()) || d.toISOString().slice(0, 10) !== s) {
    throw new OpenPrumError('safeguards-invalid', `${field} must be a calendar date YYYY-MM-DD, not ${JSON.stringify(value)}`, { field });
  }
  return s;
}

/** Purposes compare without regard to case and spacing. */
export function samePurpose(a: string | null | undefined, b: string | null | undefined): boolean {
  const norm = (s: string) => s.trim().replace(/\s+/g, ' ').toLowerCase();
  return a != null && b != null && norm(a) === norm(b);
}

/**
 * Runs an officer's act on received data; when it is refused (bad input, unlawful use, wrong state),
 * records the refusal with the officer and the reason (FD 2008/977 Art. 10; Prüm Decision Art. 30).
 * A refusal for lack of role is recorded by the HTTP layer (access.refused).
 */
export async function recordingRefusals<T>(
  ctx: SafeguardsContext,
  caller: OfficerCaller,
  about: { action: string; supplier?: string | undefined; query: Record<string, unknown>; purpose?: string | undefined; direction?: 'local' | 'outgoing' | 'incoming' },
  act: () => Promise<T>,
): Promise<T> {
  try {
    return await act();
  } catch (e) {
    if (isOpenPrumError(e) && e.code !== 'forbidden' && e.status < 500) {
      await writeRecord(ctx.db, {
        action: about.action,
        direction: about.direction ?? 'local',
        searchingBody: NCP(ctx.country),
        administeringBody: NCP(about.supplier ?? ctx.country),
        officerId: caller.officerId,
        officerReference: caller.reference,
        purpose: about.purpose ?? null,
        query: about.query,
        supplied: { refused: e.code, detail: e.message },
        outcome: 'refused',
      });
    }
    throw e;
  }
}
