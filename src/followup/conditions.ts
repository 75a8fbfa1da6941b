/**
 * The supplier's conditions of use of data supplied after a hit, as a structured list that a program
 * can enforce (a later safeguards issue does), not as free text:
 *
 * | type | meaning | source |
 * | --- | --- | --- |
 * | `no-onward-transfer` | no transfer to another state, a third state, an international body or a private party without the supplier's prior consent | FD 2008/977 Arts. 11(d), 13(1)(c), 14(1)(a) |
 * | `use-only-in-case` | use only in the named case (`caseReference`) | FD 2008/977 Arts. 3(1), 11 |
 * | `delete-by` | erase (or block) by `date` | FD 2008/977 Art. 9(1) |
 * | `review-by` | review by `date` whether the data are still needed | FD 2008/977 Art. 9(1) |
 * | `national-restriction` | a processing restriction of the supplier's national law, in `text` | FD 2008/977 Art. 12(1) |
 * | `major-event` | supplied for the major `event` named: used only for the purposes of Art. 14(1) and that event, erased one year after supply at the latest | Prüm Decision Art. 14(2) |
 *
 * Without a time limit of the supplier, the receiving state's own limits apply (FD 2008/977 Art. 9(2)).
 * The list is validated twice: strictly at the supplying node when the approver decides (dates after
 * the decision, no contradictions), and for its shape at the receiving node, which stores it as signed.
 */
import Type, { type Static, type TSchema } from 'typebox';
import { OpenPrumError, type ErrorCode } from '../errors/index.ts';
import { check, describeProblems } from '../util/validate.ts';

const DateOnly = Type.String({ pattern: '^\\d{4}-\\d{2}-\\d{2}$', description: 'YYYY-MM-DD (UTC)' });

export const NoOnwardTransfer = Type.Object({ type: Type.Literal('no-onward-transfer') }, { additionalProperties: false });
export const UseOnlyInCase = Type.Object({ type: Type.Literal('use-only-in-case'), caseReference: Type.String({ minLength: 1, maxLength: 100 }) }, { additionalProperties: false });
export const DeleteBy = Type.Object({ type: Type.Literal('delete-by'), date: DateOnly }, { additionalProperties: false });
export const ReviewBy = Type.Object({ type: Type.Literal('review-by'), date: DateOnly }, { additionalProperties: false });
export const NationalRestriction = Type.Object({ type: Type.Literal('national-restriction'), text: Type.String({ minLength: 1, maxLength: 1000 }) }, { additionalProperties: false });
/** Prüm Decision Art. 14(2): enforced by the receiving node (src/safeguards/). */
export const MajorEvent = Type.Object({ type: Type.Literal('major-event'), event: Type.String({ minLength: 1, maxLength: 200 }) }, { additionalProperties: false });

const BY_TYPE: Record<string, TSchema> = {
  'no-onward-transfer': NoOnwardTransfer,
  'use-only-in-case': UseOnlyInCase,
  'delete-by': DeleteBy,
  'review-by': ReviewBy,
  'national-restriction': NationalRestriction,
  'major-event': MajorEvent,
};

export const CONDITION_TYPES = Object.keys(BY_TYPE);

export const Condition = Type.Union([NoOnwardTransfer, UseOnlyInCase, DeleteBy, ReviewBy, NationalRestriction, MajorEvent]);
export type Condition = Static<typeof Condition>;

export const MAX_CONDITIONS = 20;

export const Conditions = Type.Array(Condition, { maxItems: MAX_CONDITIONS });

function isCalendarDate(s: string): boolean {
  const d = new Date(`${s}T00:00:00Z`);
  return !Number.isNaN(d.getTime()) && d.toISOString().slice(0, 10) === s;
}

/**
 * Checks the shape of a list of conditions and its consistency: each condition one of the known
 * types, real calendar dates, at most one delete-by, review-by and no-onward-transfer, no repeated
 * case, review-by not after delete-by. With `after` (the decision's date, YYYY-MM-DD), the dates must
 * lie after it. Throws `code` naming the condition (by index) and what is wrong.
 */
export function checkConditions(value: unknown, code: ErrorCode, options: { after?: string } = {}): Condition[] {
  if (!Array.isArray(value)) throw new OpenPrumError(code, 'conditions must be a list (an empty list for none)', { field: 'conditions' });
  if (value.length > MAX_CONDITIONS) throw new OpenPrumError(code, `conditions holds ${value.length} conditions; at most ${MAX_CONDITIONS}`, { field: 'conditions' });
  const out: Condition[] = [];
  const seen = new Set<string>();
  value.forEach((c, i) => {
    const where = `conditions[${i}]`;
    const type = typeof c === 'object' && c !== null && !Array.isArray(c) ? (c as { type?: unknown }).type : undefined;
    const schema = typeof type === 'string' ? BY_TYPE[type] : undefined;
    if (!schema) {
      throw new OpenPrumError(code, `${where}.type must be one of ${CONDITION_TYPES.join(', ')}, not ${JSON.stringify(type)}`, { field: where });
    }
    if (!check(schema, c)) {
      const p = describeProblems(schema, c)[0];
      throw new OpenPrumError(code, `${where} (${String(type)}): ${p && p.path !== '(body)' ? `field ${p.path} ` : ''}${p?.message ?? 'is not valid'}`, { field: where });
    }
    const cond = c as Condition;
    if (cond.type === 'delete-by' || cond.type === 'review-by') {
      if (!isCalendarDate(cond.date)) throw new OpenPrumError(code, `${where} (${cond.type}): ${cond.date} is not a calendar date`, { field: where });
      if (options.after && cond.date <= options.after) {
        throw new OpenPrumError(code, `${where} (${cond.type}): ${cond.date} must lie after the day of the decision, ${options.after}`, { field: where });
      }
    }
    if (cond.type === 'national-restriction' || cond.type === 'use-only-in-case' || cond.type === 'major-event') {
      const text = cond.type === 'national-restriction' ? cond.text : cond.type === 'major-event' ? cond.event : cond.caseReference;
      // eslint-disable-next-line no-control-regex
      if (text.trim().length === 0 || /[\u0000-\u0008\u000b-\u001f\u007f]/.test(text)) {
        throw new OpenPrumError(code, `${where} (${cond.type}): the text is empty or holds control characters`, { field: where });
      }
    }
    const key = cond.type === 'use-only-in-case' ? `${cond.type}:${cond.caseReference}` : cond.type === 'national-restriction' ? `${cond.type}:${cond.text}` : cond.type;
    if (seen.has(key)) throw new OpenPrumError(code, `${where} repeats a ${cond.type} condition; give it once`, { field: where });
    seen.add(key);
    out.push(cond);
  });
  const s = summariseConditions(out);
  if (s.deleteBy && s.reviewBy && s.reviewBy > s.deleteBy) {
    throw new OpenPrumError(code, `The review-by date ${s.reviewBy} lies after the delete-by date ${s.deleteBy}: data must be reviewed before they are erased`, { field: 'conditions' });
  }
  return out;
}

/** What the conditions say, in the form a check enforcing them needs. */
export interface ConditionsSummary {
  readonly noOnwardTransfer: boolean;
  /** Cases the data may be used in; empty: not limited to a case by the supplier. */
  readonly onlyInCases: readonly string[];
  readonly deleteBy: string | null;
  readonly reviewBy: string | null;
  readonly nationalRestrictions: readonly string[];
}

export function summariseConditions(conditions: readonly Condition[]): ConditionsSummary {
  let deleteBy: string | null = null;
  let reviewBy: string | null = null;
  const onlyInCases: string[] = [];
  const nationalRestrictions: string[] = [];
  let noOnwardTransfer = false;
  for (const c of conditions) {
    switch (c.type) {
      case 'no-onward-transfer':
        noOnwardTransfer = true;
        break;
      case 'use-only-in-case':
        onlyInCases.push(c.caseReference);
        break;
      case 'delete-by':
        deleteBy = c.date;
        break;
      case 'review-by':
        reviewBy = c.date;
        break;
      case 'national-restriction':
        nationalRestrictions.push(c.text);
        break;
    }
  }
  return { noOnwardTransfer, onlyInCases, deleteBy, reviewBy, nationalRestrictions };
}
