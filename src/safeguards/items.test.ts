import { describe, expect, it } from 'vitest';
import { dueReason, itemView, majorEventEnd, replaceElement, type ItemRow } from './items.ts';

const item = (over: Partial<ItemRow> = {}): ItemRow =>
  ({
    id: '00000000-0000-4000-8000-000000000001',
    source: 'follow-up',
    follow_up_id: '00000000-0000-4000-8000-000000000001',
    target_id: null,
    supplying_state: 'DE',
    kind: 'dna',
    reference: 'NL-FU-1',
    search_message_id: null,
    request_message_id: null,
    purpose: 'p',
    legal_basis: 'l',
    origin_case: 'C-1',
    requested_by_id: 1,
    requested_by_reference: 'o',
    received_at: '2026-03-01T10:00:00.123456Z',
    conditions: [],
    delete_by: null,
    review_due: null,
    major_event: null,
    status: 'active',
    preserve_purpose: null,
    preserve_reason: null,
    preserve_by_reference: null,
    blocked_at: null,
    blocked_purpose: null,
    blocked_data: null,
    erased_at: null,
    erasure_reason: null,
    contested_at: null,
    contested_note: null,
    contested_source: null,
    corrected_at: null,
    correction_note: null,
    registered_at: '2026-03-01T10:00:00Z',
    ...over,
  }) as ItemRow;

describe('received items', () => {
  it('erases or keeps one matched item of a DNA, fingerprint or vehicle answer (what a supplier corrects)', () => {
    const dna = { hits: [{ ref: 'DE-P-1', quality: 'match' }, { ref: 'DE-P-2', quality: 'match' }] };
    expect(replaceElement('dna', dna, 'DE-P-1', null)).toEqual({ data: { hits: [{ ref: 'DE-P-2', quality: 'match' }] }, remaining: 1 });
    expect(replaceElement('dna', dna, 'DE-P-9', null)).toBeUndefined();
    const fp = { candidates: [{ ref: 'DE-F-1', rank: 1 }] };
    expect(replaceElement('fingerprint', fp, 'DE-F-1', null)).toEqual({ data: { candidates: [] }, remaining: 0 });
    const v = { vehicles: [{ vin: 'V1', colour: 'red' }] };
    expect(replaceElement('vehicle', v, 'V1', { vin: 'V1', colour: 'blue' })).toEqual({ data: { vehicles: [{ vin: 'V1', colour: 'blue' }] }, remaining: 1 });
    expect(replaceElement('unknown-kind', v, 'V1', null)).toBeUndefined();
  });

  it('is due at the start of the delete-by day, and a major event one year after receipt (Prüm Decision Art. 14(2))', () => {
    const d = item({ delete_by: '2026-06-30' });
    expect(dueReason(d, new Date('2026-06-29T23:59:59Z'))).toBeUndefined();
    expect(dueReason(d, new Date('2026-06-30T00:00:00Z'))).toMatchObject({ trigger: 'delete-by' });
    const m = item({ major_event: 'Summit', delete_by: '2099-01-01' });
    expect(majorEventEnd(m)).toBe('2027-03-01');
    expect(dueReason(m, new Date('2027-02-28T12:00:00Z'))).toBeUndefined();
    expect(dueReason(m, new Date('2027-03-01T00:00:00Z'))).toMatchObject({ trigger: 'major-event' });
    expect(dueReason(item({ status: 'blocked', delete_by: '2020-01-01' }), new Date())).toBeUndefined();
  });

  it('shows the conditions, restrictions and flags with every view', () => {
    const v = itemView(
      item({
        conditions: [{ type: 'national-restriction', text: 'Not in court' }, { type: 'use-only-in-case', caseReference: 'C-1' }, { type: 'no-onward-transfer' }],
        contested_at: '2026-04-01T00:00:00Z',
        contested_note: 'Date of birth',
        contested_source: 'local',
      }),
    );
    expect(v).toMatchObject({ restrictions: ['Not in court'], onlyInCases: ['C-1'], noOnwardTransfer: true, contested: { note: 'Date of birth' } });
    expect(v.notices).toEqual(
      expect.arrayContaining([
        'CONTESTED: the data subject contests the accuracy of these data (Prüm Decision Art. 28(2)): Date of birth',
        'Restriction of DE (FD 2008/977 Art. 12): Not in court',
        'Use only in case C-1 (condition of DE)',
        'No onward transfer (condition of DE)',
      ]),
    );
  });
});
