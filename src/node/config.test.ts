import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { OpenPrumError } from '../errors/index.ts';
import { checkCountry, loadConfig, writeConfigFile } from './config.ts';

const dirs: string[] = [];
function nodeDir(content?: string): string {
  const d = mkdtempSync(join(tmpdir(), 'openprum-config-'));
  dirs.push(d);
  if (content !== undefined) writeFileSync(join(d, 'openprum.json'), content);
  return d;
}
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

function expectError(f: () => unknown, code: string, message: RegExp): void {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(OpenPrumError);
    expect((e as OpenPrumError).code).toBe(code);
    expect((e as OpenPrumError).message).toMatch(message);
    return;
  }
  throw new Error('expected an error');
}

describe('node configuration', () => {
  it('reads the file, then the environment, then flags', () => {
    const d = nodeDir();
    writeConfigFile(d, { country: 'NL', createdAt: '2026-01-01T00:00:00Z', http: { port: 9000 } });
    expect(loadConfig(d, {}, {})).toMatchObject({ country: 'NL', port: 9000, host: '127.0.0.1', databaseUrl: undefined, logLevel: 'info' });
    expect(loadConfig(d, {}, { OPENPRUM_PORT: '9100', DATABASE_URL: 'postgres://x@h/db' })).toMatchObject({ port: 9100, databaseUrl: 'postgres://x@h/db' });
    expect(loadConfig(d, { port: '9200', logLevel: 'warn' }, { OPENPRUM_PORT: '9100' })).toMatchObject({ port: 9200, logLevel: 'warn' });
  });

  it('explains what is wrong', () => {
    expectError(() => loadConfig(nodeDir(), {}, {}), 'node-not-initialised', /run: openprum init/);
    expectError(() => loadConfig(nodeDir('{not json'), {}, {}), 'config-invalid', /not valid JSON/);
    expectError(() => loadConfig(nodeDir('{"country":"Netherlands","createdAt":"x"}'), {}, {}), 'config-invalid', /country/);
    expectError(() => loadConfig(nodeDir('{"country":"NL","createdAt":"x","colour":"red"}'), {}, {}), 'config-invalid', /unknown field "colour"/);
    const ok = nodeDir('{"country":"NL","createdAt":"x"}');
    expectError(() => loadConfig(ok, { port: '80a' }, {}), 'config-invalid', /port must be a whole number/);
    expectError(() => loadConfig(ok, {}, { OPENPRUM_PORT: '70000' }), 'config-invalid', /port/);
    expectError(() => loadConfig(ok, { logLevel: 'loud' }, {}), 'config-invalid', /log level/);
  });

  it('checks country codes', () => {
    expect(checkCountry(' de ')).toBe('DE');
    expectError(() => checkCountry('DEU'), 'usage', /two-letter country code/);
    expectError(() => checkCountry('D1'), 'usage', /two-letter/);
  });
});
