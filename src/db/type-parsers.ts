/**
 * One set of type parsers for both drivers, so that the same query gives the same JavaScript values on
 * PGlite (PostgreSQL 18, embedded) and on a PostgreSQL 15 server.
 *
 * - int8 (bigserial ids, counts) → number: our ids stay far below 2^53.
 * - numeric → number.
 * - date → 'YYYY-MM-DD' string: a calendar date has no time zone; a JS Date would shift it.
 * - timestamptz → ISO 8601 string with the server's full microsecond precision, in UTC: the record of
 *   every supply keeps the "date and exact time" (Prüm Decision Art. 30(2)(b)(ii)) and a JS Date would
 *   round it to milliseconds. Sessions run with TimeZone = UTC (see connect.ts).
 * - json/jsonb → parsed value (both drivers' default, made explicit).
 */
export const OID = {
  int8: 20,
  int4: 23,
  numeric: 1700,
  date: 1082,
  timestamptz: 1184,
  timestamp: 1114,
  json: 114,
  jsonb: 3802,
} as const;

export function parseTimestamptz(text: string): string {
  // '2026-11-23 15:50:23.123456+00' → '2026-11-23T15:50:23.123456Z'
  return text.replace(' ', 'T').replace(/\+00(:00)?$/, 'Z');
}

export const typeParsers: Record<number, (text: string) => unknown> = {
  [OID.int8]: (t) => Number(t),
  [OID.numeric]: (t) => Number(t),
  [OID.date]: (t) => t,
  [OID.timestamptz]: parseTimestamptz,
  [OID.timestamp]: (t) => t.replace(' ', 'T'),
  [OID.json]: (t) => JSON.parse(t),
  [OID.jsonb]: (t) => JSON.parse(t),
};
