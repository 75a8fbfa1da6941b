import { describe, expect, it } from 'vitest';
import { displayRegistration, normaliseRegistration, normaliseVin } from './keys.ts';

describe('normaliseVin', () => {
  it('accepts a full VIN, folding case, spaces and hyphens', () => {
    expect(normaliseVin('wvw zzz1kz-6w612345')).toEqual({ ok: true, value: 'WVWZZZ1KZ6W612345' });
    expect(normaliseVin(' VF1RFB00X62345678 ')).toEqual({ ok: true, value: 'VF1RFB00X62345678' });
  });

  it('refuses partial VINs as partial', () => {
    const r = normaliseVin('WVWZZZ1KZ6W6');
    expect(r).toMatchObject({ ok: false, partial: true });
    expect(r.ok ? '' : r.reason).toMatch(/17 characters.*12/);
  });

  it.each(['WVWZZZ1KZ6W61234*', 'WVWZZZ1KZ6W6%', 'WVW?ZZ1KZ6W612345', 'WVWZZZ1KZ6W61234_', 'WVW.*', '[A-Z]{17}'])('refuses the pattern %s', (v) => {
    expect(normaliseVin(v)).toMatchObject({ ok: false, partial: true });
  });

  it('refuses I, O and Q (ISO 3779)', () => {
    for (const v of ['WVWZZZ1KZ6W61234I', 'OVWZZZ1KZ6W612345', 'WVWZZZ1KZ6Q612345']) {
      const r = normaliseVin(v);
      expect(r).toMatchObject({ ok: false, partial: false });
      expect(r.ok ? '' : r.reason).toMatch(/I, O or Q/);
    }
  });

  it('refuses too long and foreign characters', () => {
    expect(normaliseVin('WVWZZZ1KZ6W6123456')).toMatchObject({ ok: false, partial: false });
    expect(normaliseVin("WVWZZZ1KZ6W61234'")).toMatchObject({ ok: false });
    expect(normaliseVin('WVWZZZ1KZ6W61234Ä')).toMatchObject({ ok: false, partial: false });
    expect(normaliseVin('')).toMatchObject({ ok: false, partial: true });
  });
});

describe('normaliseRegistration', () => {
  it('folds case, spaces and hyphens', () => {
    expect(normaliseRegistration('xk-123 - b')).toEqual({ ok: true, value: 'XK123B' });
    expect(normaliseRegistration('B\u00a0AB\t1234')).toEqual({ ok: true, value: 'BAB1234' });
  });

  it('keeps national letters and very short plates', () => {
    expect(normaliseRegistration('LÖ-AB 12')).toEqual({ ok: true, value: 'LÖAB12' });
    expect(normaliseRegistration('1')).toEqual({ ok: true, value: '1' });
  });

  it.each(['XK-12*', 'XK%', 'XK_123', 'X?123', "XK'; DROP TABLE vehicles; --", '.*'])('refuses %s', (v) => {
    expect(normaliseRegistration(v).ok).toBe(false);
  });

  it('refuses wildcard characters as partial searches', () => {
    expect(normaliseRegistration('XK-12*')).toMatchObject({ ok: false, partial: true });
  });

  it('refuses empty and overlong numbers', () => {
    expect(normaliseRegistration('  - ')).toMatchObject({ ok: false, partial: true });
    expect(normaliseRegistration('A'.repeat(17))).toMatchObject({ ok: false, partial: false });
  });

  it('displays trimmed with single spaces', () => {
    expect(displayRegistration('  xk-123   b ')).toBe('XK-123 B');
  });
});
