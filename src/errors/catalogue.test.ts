import { describe, expect, it } from 'vitest';
import { catalogue } from './catalogue.ts';
import { OpenPrumError } from './index.ts';

describe('error catalogue', () => {
  it('gives every code a kebab-case name, an HTTP error status, an exit code and a title', () => {
    for (const [code, entry] of Object.entries(catalogue)) {
      expect(code).toMatch(/^[a-z][a-z0-9]*(-[a-z0-9]+)*$/);
      expect(entry.status).toBeGreaterThanOrEqual(400);
      expect(entry.status).toBeLessThan(600);
      expect(entry.exit).toBeGreaterThan(0);
      expect(entry.exit).toBeLessThan(126);
      expect(entry.title.length).toBeGreaterThan(3);
    }
  });

  it('carries code, status and exit code on the error', () => {
    const e = new OpenPrumError('vehicle-search-partial', 'vin: too short', { field: 'vin' });
    expect([e.code, e.status, e.exitCode, e.details]).toEqual(['vehicle-search-partial', 400, 65, { field: 'vin' }]);
  });
});
