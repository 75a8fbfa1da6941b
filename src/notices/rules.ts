/**
 * Review assistance for the secretariat's reviewers: the software explains, a human decides.
 *
 * For each request the reviewer sees
 * - the minimum criteria of a red notice (INTERPOL Rules on the Processing of Data, Art. 83): a
 *   serious ordinary-law crime, the penalty threshold (at least two years for prosecution, at least
 *   six months left to serve), enough identifiers, the judicial data, the facts with time and place;
 * - offence categories excluded by the rules (private and family matters, behavioural norms,
 *   administrative violations), found in the offence, the legal provision and the facts;
 * - Article 3 indicators (INTERPOL Constitution Art. 3 forbids any intervention or activity of a
 *   political, military, religious or racial character): offences typical of political persecution,
 *   a subject who is a politician, journalist, activist (from the request or the secretariat's
 *   register), a recognised refugee, a requesting state under supervision, earlier refused requests
 *   for the same person.
 *
 * One finding decides by itself: a subject recognised as a refugee with respect to the requesting
 * state blocks a notice (it cannot be published). Everything else is shown with its reason; to
 * publish despite a finding, the reviewer writes a justification, which is recorded.
 *
 * The criteria and term lists are data (data/review-rules.json, then the database), edited by the
 * secretariat; every version is kept and each assessment names the version it used.
 */
import { readFileSync } from 'node:fs';
import type { Kysely } from 'kysely';
import Type, { type Static } from 'typebox';
import { writeRecord } from '../audit/records.ts';
import type { Schema } from '../db/schema.ts';
import { OpenPrumError } from '../errors/index.ts';
import { offenceLabel } from '../followup/offences.ts';
import { validate } from '../util/validate.ts';
import { birthDatesCompatible, fold, nameKey, sameName, type NoticeContent } from './model.ts';

type Db = Kysely<Schema>;

const Code = Type.String({ pattern: '^[a-z][a-z0-9]*(-[a-z0-9]+)*$', maxLength: 60 });
const Term = Type.String({ minLength: 2, maxLength: 200 });
const TermList = Type.Array(
  Type.Object({ code: Code, label: Type.String({ minLength: 1, maxLength: 300 }), basis: Type.Optional(Type.String({ maxLength: 300 })), terms: Type.Array(Term, { minItems: 1, maxItems: 200 }) }, { additionalProperties: false }),
  { maxItems: 100 },
);

export const ReviewRules = Type.Object(
  {
    source: Type.String({ minLength: 1, maxLength: 2000 }),
    redNotice: Type.Object(
      {
        prosecutionMinimumMonths: Type.Integer({ minimum: 0, maximum: 1200 }),
        sentenceMinimumRemainingMonths: Type.Integer({ minimum: 0, maximum: 1200 }),
        additionalIdentifiersMinimum: Type.Integer({ minimum: 0, maximum: 10 }),
        basis: Type.String({ maxLength: 500 }),
      },
      { additionalProperties: false },
    ),
    excludedOffences: TermList,
    article3Offences: TermList,
    article3Subjects: TermList,
    reasonCodes: Type.Array(Type.Object({ code: Code, label: Type.String({ minLength: 1, maxLength: 300 }) }, { additionalProperties: false }), { minItems: 1, maxItems: 100 }),
  },
  { additionalProperties: false },
);
export type ReviewRules = Static<typeof ReviewRules>;

const SEED_FILE = new URL('./data/review-rules.json', import.meta.url);

/** Validates rules: the shape, and codes that are unique within each list. */
export function checkRules(value: unknown): ReviewRules {
  const rules = validate(ReviewRules, value, 'notice-rules-invalid', 'review rules');
  for (const list of ['excludedOffences', 'article3Offences', 'article3Subjects', 'reasonCodes'] as const) {
    const seen = new Set<string>();
    for (const item of rules[list]) {
      if (seen.has(item.code)) throw new OpenPrumError('notice-rules-invalid', `review rules: ${list} has the code "${item.code}" twice`, { field: list });
      seen.add(item.code);
    }
  }
  return rules;
}

export function seedRules(): ReviewRules {
  return checkRules(JSON.parse(readFileSync(SEED_FILE, 'utf8')));
}

/** The rules in force (the newest version); the seed becomes version 1 on first use. */
export async function currentRules(db: Db): Promise<{ version: number; rules: ReviewRules; changedAt: string; changedBy: string; note: string }> {
  let row = await db.selectFrom('notice_review_rules').selectAll().orderBy('version', 'desc').limit(1).executeTakeFirst();
  if (!row) {
    const seed = seedRules();
    row = await db
      .insertInto('notice_review_rules')
      .values({ rules: JSON.stringify(seed), note: 'Seeded from src/notices/data/review-rules.json', changed_by: 'seed' })
      .returningAll()
      .executeTakeFirstOrThrow();
  }
  return { version: row.version, rules: row.rules as ReviewRules, changedAt: row.changed_at, changedBy: row.changed_by, note: row.note };
}

/** Stores a new version of the rules (the secretariat's reviewers), recorded. */
export async function changeRules(db: Db, country: string, by: { officerId: number; reference: string }, value: unknown, note: string): Promise<{ version: number }> {
  const rules = checkRules(value);
  return db.transaction().execute(async (trx) => {
    const before = await currentRules(trx);
    const row = await trx.insertInto('notice_review_rules').values({ rules: JSON.stringify(rules), note, changed_by: by.reference }).returning('version').executeTakeFirstOrThrow();
    await writeRecord(trx, {
      action: 'notice.rules.change',
      direction: 'local',
      searchingBody: `${country} NCP`,
      administeringBody: `${country} NCP`,
      officerId: by.officerId,
      officerReference: by.reference,
      reason: note,
      query: { from: before.version, to: row.version },
      outcome: 'done',
    });
    return { version: row.version };
  });
}

// --- the assessment -------------------------------------------------------------------------------

export interface Finding {
  readonly code: string;
  readonly label: string;
  readonly basis?: string;
  /** Where it was found, and the term that found it. */
  readonly field: string;
  readonly term: string;
}

export interface Criterion {
  readonly code: 'serious-ordinary-law-crime' | 'penalty-threshold' | 'identifiers' | 'judicial-data' | 'facts';
  /** true: met; false: not met; null: for the reviewer to judge. */
  readonly met: boolean | null;
  readonly explanation: string;
}

export interface RegisterHit {
  readonly flag: string;
  readonly relatedState: string | null;
  readonly source: string;
  readonly note: string | null;
  readonly entryId: number;
}

export interface Assessment {
  readonly rulesVersion: number;
  readonly criteria: Criterion[];
  readonly excludedOffences: Finding[];
  readonly article3: {
    readonly offences: Finding[];
    readonly subject: Finding[];
    readonly register: RegisterHit[];
    readonly supervision: { readonly since: string; readonly reason: string; readonly reviewDate: string | null } | null;
    readonly earlierRefused: Array<{ readonly id: string; readonly reference: string; readonly requestingState: string; readonly refusedAt: string | null; readonly reasons: unknown }>;
  };
  /** Set when the notice cannot be published (a refugee with respect to the requesting state). */
  readonly blocked: { readonly reason: string } | null;
  /** Everything the reviewer should look at, in words. */
  readonly attention: string[];
  readonly verdict: 'no-concerns' | 'attention' | 'blocked';
}

/** Finds the terms of a list in the given texts (folded; a term matches at the start of a word). */
function findTerms(list: ReviewRules['excludedOffences'], texts: Array<[field: string, text: string | undefined]>): Finding[] {
  const found: Finding[] = [];
  for (const item of list) {
    outer: for (const [field, value] of texts) {
      if (!value) continue;
      const hay = ` ${fold(value)} `;
      for (const term of item.terms) {
        const t = fold(term);
        if (t.length === 0) continue;
        for (let at = hay.indexOf(t); at > 0; at = hay.indexOf(t, at + 1)) {
          if (!/[\p{L}\p{N}]/u.test(hay[at - 1]!)) {
            found.push({ code: item.code, label: item.label, ...(item.basis ? { basis: item.basis } : {}), field, term });
            break outer;
          }
        }
      }
    }
  }
  return found;
}

const ADDITIONAL_IDENTIFIERS: Array<[string, (c: NoticeContent) => boolean]> = [
  ['nationalities', (c) => (c.subject?.nationalities?.length ?? 0) > 0],
  ['place or country of birth', (c) => Boolean(c.subject?.placeOfBirth || c.subject?.countryOfBirth)],
  ['identity document', (c) => (c.subject?.identityDocuments?.length ?? 0) > 0],
  ['photograph', (c) => (c.attachments ?? []).some((a) => a.kind === 'photo')],
  ['fingerprints', (c) => (c.attachments ?? []).some((a) => a.kind === 'fingerprints')],
  ['physical description', (c) => Boolean(c.subject?.heightCm || c.subject?.eyeColour || c.subject?.hairColour || c.subject?.distinguishingMarks)],
  ['aliases', (c) => (c.subject?.aliases?.length ?? 0) > 0],
];

/** The criteria and term findings of a content, without the database (pure). */
export function assessContent(rules: ReviewRules, kind: 'notice' | 'diffusion', type: string, c: NoticeContent): Pick<Assessment, 'criteria' | 'excludedOffences'> & { offences: Finding[]; subject: Finding[] } {
  const criteria: Criterion[] = [];
  const r = rules.redNotice;
  if (type === 'red') {
    const j = c.judicial;
    if (j) {
      const label = offenceLabel(j.offence.category);
      criteria.push(
        j.offence.category === 'other'
          ? { code: 'serious-ordinary-law-crime', met: null, explanation: `The offence "${j.offence.description}" is not in a category of FD 2002/584/JHA Art. 2(2); whether it is a serious ordinary-law crime is for the reviewer` }
          : { code: 'serious-ordinary-law-crime', met: true, explanation: `The offence is of the category "${label}" (FD 2002/584/JHA Art. 2(2)), an ordinary-law crime; its seriousness in this case is for the reviewer` },
      );
      const p = j.penalty;
      if (p.basis === 'prosecution') {
        const met = p.lifeImprisonment === true || p.maximumMonths >= r.prosecutionMinimumMonths;
        criteria.push({
          code: 'penalty-threshold',
          met,
          explanation: met
            ? `Wanted for prosecution; the maximum penalty is ${p.lifeImprisonment ? 'life imprisonment' : `${p.maximumMonths} months`}, at least the ${r.prosecutionMinimumMonths} months required (${r.basis})`
            : `Wanted for prosecution; the maximum penalty is ${p.maximumMonths} months, less than the ${r.prosecutionMinimumMonths} months required (${r.basis})`,
        });
      } else {
        const met = p.lifeImprisonment === true || p.remainingMonths >= r.sentenceMinimumRemainingMonths;
        criteria.push({
          code: 'penalty-threshold',
          met,
          explanation: met
            ? `Wanted to serve a sentence; ${p.lifeImprisonment ? 'a life sentence' : `${p.remainingMonths} months`} left to serve, at least the ${r.sentenceMinimumRemainingMonths} months required (${r.basis})`
            : `Wanted to serve a sentence; ${p.remainingMonths} months left to serve, less than the ${r.sentenceMinimumRemainingMonths} months required (${r.basis})`,
        });
      }
      criteria.push({ code: 'judicial-data', met: true, explanation: `Warrant ${j.warrant.reference} of ${j.warrant.issuedBy}, issued ${j.warrant.issuedOn}; ${j.offence.legalProvision}` });
    }
    const have = ADDITIONAL_IDENTIFIERS.filter(([, has]) => has(c)).map(([name]) => name);
    const met = have.length >= r.additionalIdentifiersMinimum;
    criteria.push({
      code: 'identifiers',
      met,
      explanation: `Name, sex and date of birth, and ${have.length === 0 ? 'nothing more' : have.join(', ')}; at least ${r.additionalIdentifiersMinimum} more identifier${r.additionalIdentifiersMinimum === 1 ? '' : 's'} (nationality, place of birth, identity document, photograph, fingerprints, description, aliases) ${met ? 'given' : 'needed'}`,
    });
  }
  criteria.push(
    c.facts.from
      ? { code: 'facts', met: true, explanation: `Facts from ${c.facts.from}${c.facts.to ? ` to ${c.facts.to}` : ''} in ${c.facts.place} (${c.facts.country})` }
      : { code: 'facts', met: false, explanation: `The facts give a place (${c.facts.place}) but no date (facts.from)` },
  );
  const offenceTexts: Array<[string, string | undefined]> = [
    ['judicial.offence.description', c.judicial?.offence.description],
    ['judicial.offence.legalProvision', c.judicial?.offence.legalProvision],
    ['facts.summary', c.facts.summary],
  ];
  // Excluded categories are a red-notice rule; for other kinds they are still worth showing.
  const excludedOffences = findTerms(rules.excludedOffences, offenceTexts);
  const offences = findTerms(rules.article3Offences, offenceTexts);
  const subject = findTerms(rules.article3Subjects, [['subject.occupation', c.subject?.occupation]]);
  void kind;
  return { criteria, excludedOffences, offences, subject };
}

/** Current supervision of a state, as this node knows it (the newest measure, unless lifted). */
export async function supervisionOf(db: Db, state: string): Promise<{ since: string; reason: string; reviewDate: string | null; version: number } | null> {
  const row = await db.selectFrom('notice_supervision').selectAll().where('state', '=', state).orderBy('version', 'desc').limit(1).executeTakeFirst();
  if (!row || row.measure === 'lifted') return null;
  return { since: row.decided_at, reason: row.reason, reviewDate: row.review_date, version: row.version };
}

/** The secretariat's register entries that match a subject. */
export async function registerHits(db: Db, subject: NoticeContent['subject']): Promise<RegisterHit[]> {
  const key = nameKey(subject?.familyName, subject?.forenames);
  if (!key) return [];
  const family = key.split('|')[0]!;
  const rows = await db.selectFrom('notice_subject_flags').selectAll().where('removed_at', 'is', null).where('name_key', 'like', `${family.replace(/[%_\\]/g, '\\$&')}|%`).execute();
  return rows
    .filter((f) => sameName(f.name_key, key) && birthDatesCompatible(f.birth_date, subject?.dateOfBirth))
    .map((f) => ({ flag: f.flag, relatedState: f.related_state, source: f.source, note: f.note, entryId: f.id }));
}

/** The full assessment of a request at the secretariat. */
export async function assess(db: Db, notice: { id: string; kind: 'notice' | 'diffusion'; type: string; requestingState: string; content: NoticeContent }): Promise<Assessment> {
  const { version, rules } = await currentRules(db);
  const base = assessContent(rules, notice.kind, notice.type, notice.content);
  const register = await registerHits(db, notice.content.subject);
  const supervision = await supervisionOf(db, notice.requestingState);
  const key = nameKey(notice.content.subject?.familyName, notice.content.subject?.forenames);
  const refusedRows = key
    ? await db
        .selectFrom('notices')
        .select(['id', 'reference', 'requesting_state', 'decided_at', 'decision', 'name_key', 'birth_date'])
        .where('held_as', '=', 'secretariat')
        .where('status', '=', 'refused')
        .where('id', '<>', notice.id)
        .where('name_key', 'like', `${key.split('|')[0]!.replace(/[%_\\]/g, '\\$&')}|%`)
        .execute()
    : [];
  const earlierRefused = refusedRows
    .filter((n) => n.name_key && sameName(n.name_key, key!) && birthDatesCompatible(n.birth_date, notice.content.subject?.dateOfBirth))
    .map((n) => ({ id: n.id, reference: n.reference, requestingState: n.requesting_state, refusedAt: n.decided_at, reasons: (n.decision as { reasons?: unknown } | null)?.reasons ?? [] }));

  const refugee = register.find((h) => h.flag === 'refugee' && h.relatedState === notice.requestingState);
  const blocked = refugee
    ? { reason: `The subject is recorded as a refugee recognised with respect to ${notice.requestingState} (register entry ${refugee.entryId}, source: ${refugee.source}); a notice or diffusion of ${notice.requestingState} about them cannot be published or released` }
    : null;

  const attention: string[] = [];
  for (const c of base.criteria) if (c.met === false) attention.push(`Criterion not met (${c.code}): ${c.explanation}`);
  for (const f of base.excludedOffences) attention.push(`Excluded offence category "${f.label}" (${f.basis ?? 'rules'}): "${f.term}" in ${f.field}`);
  for (const f of base.offences) attention.push(`Article 3 indicator "${f.label}": "${f.term}" in ${f.field}`);
  for (const f of base.subject) attention.push(`Article 3 indicator: the subject is described as ${f.label.toLowerCase()} ("${f.term}" in ${f.field})`);
  for (const h of register) {
    attention.push(`Register: the subject is recorded as ${h.flag}${h.relatedState ? ` with respect to ${h.relatedState}` : ''} (entry ${h.entryId}, source: ${h.source})`);
  }
  if (supervision) attention.push(`${notice.requestingState} is under supervision since ${supervision.since}: ${supervision.reason}`);
  for (const e of earlierRefused) attention.push(`An earlier request for the same person was refused: ${e.reference} of ${e.requestingState}${e.refusedAt ? ` on ${e.refusedAt.slice(0, 10)}` : ''}`);

  return {
    rulesVersion: version,
    criteria: base.criteria,
    excludedOffences: base.excludedOffences,
    article3: { offences: base.offences, subject: base.subject, register, supervision: supervision ? { since: supervision.since, reason: supervision.reason, reviewDate: supervision.reviewDate } : null, earlierRefused },
    blocked,
    attention,
    verdict: blocked ? 'blocked' : attention.length > 0 ? 'attention' : 'no-concerns',
  };
}
