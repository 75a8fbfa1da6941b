/**
 * Public extracts and screening.
 *
 * Public extracts: for published red, yellow and UN notices whose requesting state agreed, any node
 * serves an extract without authentication in the JSON shape of INTERPOL's public notices web service
 * (`GET /notices/v1/red`, `/yellow`, `/un`; `entity_id` like `2024/00042`; the list in
 * `_embedded.notices` with `_links`; paging with `page` and `resultPerPage`; a notice at
 * `/notices/v1/red/2024-00042`, its photographs at `.../images`), so that existing clients and
 * screening tools read it. Each extract served is recorded (the data supplied: the entity ids).
 *
 * Screening: a feed in that shape (INTERPOL's, or another federation's) is imported as an untrusted
 * source, kept apart from the notices received through the federation; an officer's screening of a
 * name shows both, each marked with where it comes from and how far it can be trusted.
 */
import { createHash } from 'node:crypto';
import type { Kysely } from 'kysely';
import Type from 'typebox';
import { writeRecord } from '../audit/records.ts';
import type { Schema } from '../db/schema.ts';
import { OpenPrumError } from '../errors/index.ts';
import { requireRole, type OfficerCaller } from '../identity/caller.ts';
import { check, describeProblems, validate } from '../util/validate.ts';
import { birthDatesCompatible, dateRange, nameKey, PartialDate, sameName, type NoticeContent } from './model.ts';

type Db = Kysely<Schema>;

export const PUBLIC_LIST_TYPES = ['red', 'yellow', 'un'] as const;
export type PublicType = (typeof PUBLIC_LIST_TYPES)[number];
/** The public service's largest page. */
export const MAX_RESULTS_PER_PAGE = 160;

export interface PublicQuery {
  readonly forename?: string | undefined;
  readonly name?: string | undefined;
  readonly nationality?: string | undefined;
  readonly ageMin?: number | undefined;
  readonly ageMax?: number | undefined;
  readonly sexId?: string | undefined;
  readonly arrestWarrantCountryId?: string | undefined;
  readonly freeText?: string | undefined;
  readonly page?: number | undefined;
  readonly resultPerPage?: number | undefined;
}

const href = (base: string, path: string) => ({ href: `${base}${path}` });
const publicId = (entityId: string) => entityId.replace('/', '-');
const publicDate = (d: string | undefined) => (d ? d.replace(/-/g, '/') : null);
const detailPath = (type: PublicType, entityId: string) => (type === 'un' ? `/notices/v1/un/persons/${publicId(entityId)}` : `/notices/v1/${type}/${publicId(entityId)}`);

interface PublicRow {
  readonly id: string;
  readonly entity_id: string | null;
  readonly type: string;
  readonly requesting_state: string;
  readonly content: Record<string, unknown> | null;
  readonly expires_at: string | null;
}

async function publicRows(db: Db, type: PublicType, now: Date): Promise<PublicRow[]> {
  return db
    .selectFrom('notices')
    .select(['id', 'entity_id', 'type', 'requesting_state', 'content', 'expires_at'])
    .where('kind', '=', 'notice')
    .where('type', '=', type)
    .where('status', '=', 'published')
    .where('public_extract', '=', true)
    .where('entity_id', 'is not', null)
    .where('content', 'is not', null)
    .where('expires_at', '>', now.toISOString())
    .orderBy('published_at', 'desc')
    .execute();
}

function ageOn(birth: string | undefined, now: Date): { min: number; max: number } | null {
  if (!birth) return null;
  const r = dateRange(birth, 'date_of_birth');
  const years = (d: string) => {
    const [y, m, dd] = d.split('-').map(Number) as [number, number, number];
    let a = now.getUTCFullYear() - y;
    if (now.getUTCMonth() + 1 < m || (now.getUTCMonth() + 1 === m && now.getUTCDate() < dd)) a--;
    return a;
  };
  return { min: years(r.to), max: years(r.from) };
}

function photos(c: NoticeContent): Array<{ index: number; mediaType: string; data: string }> {
  return (c.attachments ?? []).map((a, index) => ({ index, mediaType: a.mediaType, data: a.data, kind: a.kind })).filter((a) => a.kind === 'photo');
}

function summary(base: string, type: PublicType, r: PublicRow): Record<string, unknown> {
  const c = r.content as unknown as NoticeContent;
  const s = c.subject ?? {};
  const path = detailPath(type, r.entity_id!);
  const pics = photos(c);
  return {
    forename: s.forenames ?? null,
    date_of_birth: publicDate(s.dateOfBirth),
    entity_id: r.entity_id,
    nationalities: s.nationalities ?? null,
    name: s.familyName ?? null,
    ...(type === 'un' ? { un_reference: c.unReference ?? null } : {}),
    _links: { self: href(base, path), images: href(base, `${path}/images`), ...(pics[0] ? { thumbnail: href(base, `${path}/images/${pics[0].index + 1}`) } : {}) },
  };
}

function matches(q: PublicQuery, type: PublicType, r: PublicRow, now: Date): boolean {
  const c = r.content as unknown as NoticeContent;
  const s = c.subject ?? {};
  const has = (value: string | undefined, wanted: string | undefined) => !wanted || (value ?? '').toUpperCase().includes(wanted.toUpperCase());
  if (!has(s.forenames, q.forename) || !has(s.familyName, q.name)) return false;
  if (q.nationality && !(s.nationalities ?? []).includes(q.nationality.toUpperCase())) return false;
  if (q.sexId && (s.sex ?? 'U') !== q.sexId.toUpperCase()) return false;
  if (q.arrestWarrantCountryId && (type !== 'red' || r.requesting_state !== q.arrestWarrantCountryId.toUpperCase())) return false;
  if (q.ageMin !== undefined || q.ageMax !== undefined) {
    const age = ageOn(s.dateOfBirth, now);
    if (!age) return false;
    if (q.ageMin !== undefined && age.max < q.ageMin) return false;
    if (q.ageMax !== undefined && age.min > q.ageMax) return false;
  }
  if (q.freeText) {
    const hay = [s.familyName, s.forenames, s.distinguishingMarks, c.judicial?.offence.description].filter(Boolean).join(' ').toUpperCase();
    if (!hay.includes(q.freeText.toUpperCase())) return false;
  }
  return true;
}

async function recordExtract(db: Db, country: string, path: string, entityIds: string[]): Promise<void> {
  // The extracts are public by the requesting states' consent; the record keeps which were supplied.
  await writeRecord(db, {
    action: 'notice.public-extract',
    direction: 'outgoing',
    searchingBody: 'the public (unauthenticated)',
    administeringBody: `${country} NCP`,
    legalBasis: 'Consent of the requesting state to publish the extract (INTERPOL Rules on the Processing of Data)',
    query: { path },
    supplied: { entityIds },
    outcome: 'done',
  });
}

/** A page of public extracts of one type, in the shape of INTERPOL's public notices web service. */
export async function publicList(db: Db, country: string, type: PublicType, q: PublicQuery, base: string, now: Date = new Date()): Promise<Record<string, unknown>> {
  const page = q.page ?? 1;
  const per = q.resultPerPage ?? 20;
  if (!Number.isInteger(page) || page < 1) throw new OpenPrumError('input-invalid', 'page must be a whole number from 1');
  if (!Number.isInteger(per) || per < 1 || per > MAX_RESULTS_PER_PAGE) throw new OpenPrumError('input-invalid', `resultPerPage must be a whole number from 1 to ${MAX_RESULTS_PER_PAGE}`);
  const all = (await publicRows(db, type, now)).filter((r) => matches(q, type, r, now));
  const slice = all.slice((page - 1) * per, page * per);
  const last = Math.max(1, Math.ceil(all.length / per));
  const params = Object.entries({ ...q, resultPerPage: per })
    .filter(([k, v]) => v !== undefined && k !== 'page')
    .map(([k, v]) => `${k}=${encodeURIComponent(String(v))}`)
    .join('&');
  const pageHref = (p: number) => href(base, `/notices/v1/${type}?${params ? `${params}&` : ''}page=${p}`);
  await recordExtract(db, country, `/notices/v1/${type}`, slice.map((r) => r.entity_id!));
  return {
    total: all.length,
    query: { page, resultPerPage: per, ...Object.fromEntries(Object.entries(q).filter(([k, v]) => v !== undefined && k !== 'page' && k !== 'resultPerPage')) },
    _embedded: { notices: slice.map((r) => summary(base, type, r)) },
    _links: { self: pageHref(page), first: pageHref(1), ...(page < last ? { next: pageHref(page + 1) } : {}), ...(page > 1 ? { previous: pageHref(page - 1) } : {}), last: pageHref(last) },
  };
}

async function findPublic(db: Db, type: PublicType, idParam: string, now: Date): Promise<PublicRow> {
  const m = /^(\d{4})-(\d{5,9})$/.exec(idParam);
  const entityId = m ? `${m[1]}/${m[2]}` : '';
  const row = m ? (await publicRows(db, type, now)).find((r) => r.entity_id === entityId) : undefined;
  if (!row) throw new OpenPrumError('not-found', `No public ${type} notice ${idParam} (an id looks like 2024-00042)`);
  return row;
}

/** One public extract. */
export async function publicDetail(db: Db, country: string, type: PublicType, idParam: string, base: string, now: Date = new Date()): Promise<Record<string, unknown>> {
  const r = await findPublic(db, type, idParam, now);
  const c = r.content as unknown as NoticeContent;
  const s = c.subject ?? {};
  const path = detailPath(type, r.entity_id!);
  const pics = photos(c);
  await recordExtract(db, country, path, [r.entity_id!]);
  return {
    ...(type === 'red' ? { arrest_warrants: c.judicial ? [{ charge: c.judicial.offence.description, issuing_country_id: r.requesting_state, charge_translation: null }] : [] } : {}),
    ...(type === 'yellow' ? { date_of_event: publicDate(c.facts.from), place: c.facts.place, country: c.facts.country, requesting_country_id: r.requesting_state } : {}),
    ...(type === 'un' ? { un_reference: c.unReference ?? null } : {}),
    weight: s.weightKg ?? null,
    forename: s.forenames ?? null,
    date_of_birth: publicDate(s.dateOfBirth),
    entity_id: r.entity_id,
    languages_spoken_ids: s.languages?.map((l) => l.toUpperCase()) ?? null,
    nationalities: s.nationalities ?? null,
    height: s.heightCm !== undefined ? s.heightCm / 100 : null,
    sex_id: s.sex ?? null,
    country_of_birth_id: s.countryOfBirth ?? null,
    name: s.familyName ?? null,
    distinguishing_marks: s.distinguishingMarks ?? null,
    eyes_colors_id: s.eyeColour ? [s.eyeColour] : null,
    hairs_id: s.hairColour ? [s.hairColour] : null,
    place_of_birth: s.placeOfBirth ?? null,
    _embedded: { links: [] },
    _links: { self: href(base, path), images: href(base, `${path}/images`), ...(pics[0] ? { thumbnail: href(base, `${path}/images/${pics[0].index + 1}`) } : {}) },
  };
}

export async function publicImages(db: Db, type: PublicType, idParam: string, base: string, now: Date = new Date()): Promise<Record<string, unknown>> {
  const r = await findPublic(db, type, idParam, now);
  const path = detailPath(type, r.entity_id!);
  return {
    _embedded: { images: photos(r.content as unknown as NoticeContent).map((p) => ({ picture_id: String(p.index + 1), _links: { self: href(base, `${path}/images/${p.index + 1}`) } })) },
    _links: { self: href(base, `${path}/images`), notice: href(base, path) },
  };
}

export async function publicImage(db: Db, country: string, type: PublicType, idParam: string, pictureId: string, now: Date = new Date()): Promise<{ mediaType: string; bytes: Buffer }> {
  const r = await findPublic(db, type, idParam, now);
  const p = photos(r.content as unknown as NoticeContent).find((x) => String(x.index + 1) === pictureId);
  if (!p) throw new OpenPrumError('not-found', `Notice ${idParam} has no picture ${pictureId}`);
  await recordExtract(db, country, `${detailPath(type, r.entity_id!)}/images/${pictureId}`, [r.entity_id!]);
  return { mediaType: p.mediaType, bytes: Buffer.from(p.data, 'base64') };
}

// --- imported feeds (untrusted) -------------------------------------------------------------------

const FeedNotice = Type.Object(
  {
    entity_id: Type.String({ pattern: '^\\d{4}/\\d{1,9}$' }),
    name: Type.Union([Type.String({ minLength: 1, maxLength: 200 }), Type.Null()]),
    forename: Type.Optional(Type.Union([Type.String({ maxLength: 200 }), Type.Null()])),
    date_of_birth: Type.Optional(Type.Union([Type.String({ pattern: '^\\d{4}(/\\d{2}(/\\d{2})?)?$' }), Type.Null()])),
    nationalities: Type.Optional(Type.Union([Type.Array(Type.String({ pattern: '^[A-Z0-9]{2,3}$' }), { maxItems: 20 }), Type.Null()])),
  },
  // The feed is another system's: fields we do not use are allowed, and ignored.
  { additionalProperties: true },
);
const FeedPage = Type.Object({ _embedded: Type.Object({ notices: Type.Array(Type.Unknown(), { maxItems: 10_000 }) }, { additionalProperties: true }) }, { additionalProperties: true });

export const MAX_FEED_ENTRIES = 200_000;

export const FeedImportInput = Type.Object(
  {
    source: Type.String({ minLength: 1, maxLength: 500, description: 'Where the feed comes from (URL, date fetched)' }),
    type: Type.Union(PUBLIC_LIST_TYPES.map((t) => Type.Literal(t))),
    /** One page of the feed, or several. */
    feed: Type.Unknown(),
  },
  { additionalProperties: false },
);

/** Imports a public feed as an untrusted screening source, replacing the earlier import of that source and type. All or nothing. */
export async function importFeed(db: Db, country: string, caller: OfficerCaller, raw: unknown): Promise<{ importId: number; source: string; type: string; entries: number; replaced: number }> {
  requireRole(caller, 'admin');
  const input = validate(FeedImportInput, raw, 'notice-feed-invalid', 'feed import');
  const pages = Array.isArray(input.feed) ? input.feed : [input.feed];
  if (pages.length === 0) throw new OpenPrumError('notice-feed-invalid', 'feed holds no page');
  const entries: Array<{ entity_id: string; family_name: string | null; forenames: string | null; birth_date: string | null; nationalities: string[]; name_key: string }> = [];
  const seen = new Set<string>();
  pages.forEach((page, p) => {
    if (!check(FeedPage, page)) throw new OpenPrumError('notice-feed-invalid', `feed page ${p + 1}: ${describeProblems(FeedPage, page)[0]?.path ?? ''} ${describeProblems(FeedPage, page)[0]?.message ?? 'is not a page of the public notices service (_embedded.notices)'}`.trim(), { page: p + 1 });
    page._embedded.notices.forEach((n, i) => {
      if (!check(FeedNotice, n)) {
        const first = describeProblems(FeedNotice, n)[0];
        throw new OpenPrumError('notice-feed-invalid', `feed page ${p + 1}, notice ${i + 1}: field ${first?.path ?? '?'} ${first?.message ?? 'is not valid'}`, { page: p + 1, notice: i + 1 });
      }
      const birth = n.date_of_birth ? n.date_of_birth.replace(/\//g, '-') : null;
      if (birth) {
        try {
          dateRange(birth, 'date_of_birth');
        } catch {
          throw new OpenPrumError('notice-feed-invalid', `feed page ${p + 1}, notice ${i + 1} (${n.entity_id}): date_of_birth ${n.date_of_birth} is not a possible date`, { page: p + 1, notice: i + 1 });
        }
      }
      if (seen.has(n.entity_id)) return;
      seen.add(n.entity_id);
      const key = nameKey(n.name ?? n.forename ?? undefined, n.name ? (n.forename ?? undefined) : undefined);
      if (!key) return;
      entries.push({ entity_id: n.entity_id, family_name: n.name, forenames: n.forename ?? null, birth_date: birth, nationalities: n.nationalities ?? [], name_key: key });
      if (entries.length > MAX_FEED_ENTRIES) throw new OpenPrumError('notice-feed-invalid', `The feed holds more than ${MAX_FEED_ENTRIES} notices`);
    });
  });
  const sha256 = createHash('sha256').update(JSON.stringify(input.feed)).digest('hex');
  return db.transaction().execute(async (trx) => {
    const old = await trx.selectFrom('notice_feed_imports').innerJoin('notice_screening_entries', 'notice_screening_entries.import_id', 'notice_feed_imports.id').select('notice_feed_imports.id').where('source', '=', input.source).where('type', '=', input.type).execute();
    const oldIds = [...new Set(old.map((o) => o.id))];
    let replaced = 0;
    if (oldIds.length > 0) {
      const r = await trx.deleteFrom('notice_screening_entries').where('import_id', 'in', oldIds).where('type', '=', input.type).executeTakeFirst();
      replaced = Number(r.numDeletedRows);
    }
    const imp = await trx.insertInto('notice_feed_imports').values({ source: input.source, sha256, entries: entries.length, imported_by: caller.reference }).returning('id').executeTakeFirstOrThrow();
    for (let i = 0; i < entries.length; i += 1000) {
      await trx
        .insertInto('notice_screening_entries')
        .values(entries.slice(i, i + 1000).map((e) => ({ ...e, import_id: imp.id, type: input.type, nationalities: JSON.stringify(e.nationalities) })))
        .execute();
    }
    await writeRecord(trx, {
      action: 'notice.feed.import',
      direction: 'incoming',
      searchingBody: `${country} NCP`,
      administeringBody: `public feed: ${input.source}`.slice(0, 500),
      officerId: caller.officerId,
      officerReference: caller.reference,
      query: { source: input.source, type: input.type, sha256 },
      supplied: { entries: entries.length, replaced },
      outcome: 'done',
    });
    return { importId: imp.id, source: input.source, type: input.type, entries: entries.length, replaced };
  });
}

export const ScreeningInput = Type.Object(
  {
    familyName: Type.String({ minLength: 1, maxLength: 100 }),
    forenames: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
    dateOfBirth: Type.Optional(PartialDate),
    reason: Type.String({ minLength: 1, maxLength: 500, description: 'Why (recorded)' }),
  },
  { additionalProperties: false },
);

/** Screens a name against the notices and diffusions this node holds (trusted) and the imported public feeds (untrusted). */
export async function screen(db: Db, country: string, caller: OfficerCaller, raw: unknown): Promise<Record<string, unknown>> {
  requireRole(caller, 'officer');
  const input = validate(ScreeningInput, raw, 'input-invalid', 'screening');
  if (input.dateOfBirth) dateRange(input.dateOfBirth, 'dateOfBirth');
  const key = nameKey(input.familyName, input.forenames)!;
  const family = key.split('|')[0]!.replace(/[%_\\]/g, '\\$&');
  const held = await db
    .selectFrom('notices')
    .select(['id', 'kind', 'type', 'requesting_state', 'reference', 'entity_id', 'status', 'held_as', 'name_key', 'birth_date', 'expires_at'])
    .where('name_key', 'like', `${family}|%`)
    .where('status', 'in', ['published', 'active', 'issued', 'compliant', 'released'])
    .execute();
  const federation = held
    .filter((r) => r.name_key && sameName(r.name_key, key) && birthDatesCompatible(r.birth_date, input.dateOfBirth))
    .map((r) => ({ id: r.id, kind: r.kind, type: r.type, requestingState: r.requesting_state, reference: r.reference, entityId: r.entity_id, status: r.status, dateOfBirth: r.birth_date, expiresAt: r.expires_at, trust: 'federation: signed by the requesting state and reviewed by the secretariat' }));
  const feed = await db
    .selectFrom('notice_screening_entries')
    .innerJoin('notice_feed_imports', 'notice_feed_imports.id', 'notice_screening_entries.import_id')
    .select(['notice_screening_entries.type', 'entity_id', 'family_name', 'forenames', 'birth_date', 'nationalities', 'name_key', 'source', 'imported_at'])
    .where('name_key', 'like', `${family}|%`)
    .execute();
  const publicFeeds = feed
    .filter((r) => sameName(r.name_key, key) && birthDatesCompatible(r.birth_date, input.dateOfBirth))
    .map((r) => ({ type: r.type, entityId: r.entity_id, name: r.family_name, forename: r.forenames, dateOfBirth: r.birth_date, nationalities: r.nationalities, source: r.source, importedAt: r.imported_at, trust: 'untrusted: an imported public extract; confirm with the secretariat before acting on it' }));
  await writeRecord(db, {
    action: 'notice.screening',
    direction: 'local',
    searchingBody: `${country} NCP`,
    administeringBody: `${country} NCP`,
    officerId: caller.officerId,
    officerReference: caller.reference,
    reason: input.reason,
    query: { familyName: input.familyName, forenames: input.forenames ?? null, dateOfBirth: input.dateOfBirth ?? null },
    supplied: { federation: federation.map((f) => f.id), publicFeeds: publicFeeds.map((p) => `${p.type}:${p.entityId}`) },
    hit: federation.length + publicFeeds.length > 0,
    outcome: federation.length + publicFeeds.length > 0 ? 'hit' : 'no-hit',
  });
  return { federation, publicFeeds };
}
