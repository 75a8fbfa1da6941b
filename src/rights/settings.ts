/**
 * The national settings of data subjects' rights: the time within which a request is answered, and
 * where a person may appeal. The law leaves both to national law (Prüm Decision Art. 31(1): "the
 * detailed rules for the procedure ... shall be governed by the relevant national legal provisions";
 * FD 2008/977 Arts. 17(3), 18(1), 20; Directive (EU) 2016/680 Art. 12(3): "without undue delay").
 *
 * Read from `<data-dir>/rights.json` (optional), then the environment:
 *
 * ```json
 * { "answerDays": 30,
 *   "supervisoryAuthority": { "name": "Autoriteit Persoonsgegevens", "address": "Postbus 93374, 2509 AJ Den Haag",
 *                             "url": "https://autoriteitpersoonsgegevens.nl", "email": null },
 *   "judicialRemedy": "the administrative court (rechtbank) of your place of residence" }
 * ```
 *
 * `OPENPRUM_SUBJECT_REQUEST_DAYS` overrides `answerDays`. The default of 30 days is one month, the
 * period that Regulation (EU) 2016/679 Art. 12(3) sets and that several national laws implementing
 * Directive (EU) 2016/680 took over; a node must set its own national period.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import Type, { type Static } from 'typebox';
import { OpenPrumError } from '../errors/index.ts';
import { validate } from '../util/validate.ts';

export const RIGHTS_FILE = 'rights.json';
export const DEFAULT_ANSWER_DAYS = 30;

const Text = (max: number) => Type.String({ minLength: 1, maxLength: max });

const RightsFile = Type.Object(
  {
    answerDays: Type.Optional(Type.Integer({ minimum: 1, maximum: 365 })),
    supervisoryAuthority: Type.Optional(
      Type.Object(
        {
          name: Text(200),
          address: Type.Optional(Type.Union([Text(500), Type.Null()])),
          url: Type.Optional(Type.Union([Text(300), Type.Null()])),
          email: Type.Optional(Type.Union([Text(200), Type.Null()])),
        },
        { additionalProperties: false },
      ),
    ),
    judicialRemedy: Type.Optional(Text(500)),
  },
  { additionalProperties: false },
);
export type RightsFile = Static<typeof RightsFile>;

export interface SupervisoryAuthority {
  readonly name: string;
  readonly address: string | null;
  readonly url: string | null;
  readonly email: string | null;
}

export interface RightsSettings {
  /** Days from receipt within which a request is answered (the due time). */
  readonly answerDays: number;
  readonly supervisoryAuthority: SupervisoryAuthority;
  readonly judicialRemedy: string;
  /** False while the authority is the placeholder (no rights.json): shown to handlers as a warning. */
  readonly configured: boolean;
}

const PLACEHOLDER_AUTHORITY: SupervisoryAuthority = {
  name: 'the national data protection supervisory authority',
  address: null,
  url: null,
  email: null,
};

/** Reads and validates the settings of a node's data directory (throws config-invalid, naming the file). */
export function readRightsSettings(dataDir: string, env: NodeJS.ProcessEnv = process.env): RightsSettings {
  const file = join(dataDir, RIGHTS_FILE);
  let parsed: RightsFile = {};
  if (existsSync(file)) {
    let json: unknown;
    try {
      json = JSON.parse(readFileSync(file, 'utf8'));
    } catch (e) {
      throw new OpenPrumError('config-invalid', `${file} is not valid JSON: ${(e as Error).message}`);
    }
    parsed = validate(RightsFile, json, 'config-invalid', file);
  }
  let answerDays = parsed.answerDays ?? DEFAULT_ANSWER_DAYS;
  const fromEnv = env.OPENPRUM_SUBJECT_REQUEST_DAYS;
  if (fromEnv !== undefined && fromEnv !== '') {
    if (!/^[1-9][0-9]{0,2}$/.test(fromEnv) || Number(fromEnv) > 365) {
      throw new OpenPrumError('config-invalid', `OPENPRUM_SUBJECT_REQUEST_DAYS must be a whole number of days from 1 to 365, not ${JSON.stringify(fromEnv)}`);
    }
    answerDays = Number(fromEnv);
  }
  const a = parsed.supervisoryAuthority;
  return {
    answerDays,
    supervisoryAuthority: a ? { name: a.name, address: a.address ?? null, url: a.url ?? null, email: a.email ?? null } : PLACEHOLDER_AUTHORITY,
    judicialRemedy: parsed.judicialRemedy ?? 'the competent national court',
    configured: a !== undefined,
  };
}

const cache = new WeakMap<object, RightsSettings>();

/** The settings of a node, read once per node object. */
export function rightsSettingsOf(node: { readonly config: { readonly dataDir: string } }): RightsSettings {
  let s = cache.get(node);
  if (!s) {
    s = readRightsSettings(node.config.dataDir);
    cache.set(node, s);
  }
  return s;
}
