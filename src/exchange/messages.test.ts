import { describe, expect, it } from 'vitest';
import { check } from '../util/validate.ts';
import { canonicalJson, PROTOCOL, requestDigest, SearchRequest } from './messages.ts';
import { backoffMs } from './outbox.ts';

const request: SearchRequest = {
  protocol: PROTOCOL,
  type: 'search-request',
  messageId: '0b7c8f3e-5d4a-4c1b-9e2f-123456789abc',
  sentAt: '2026-01-02T03:04:05.678Z',
  requestingState: 'NL',
  requestedState: 'DE',
  reference: 'NL-20260102-ABCDEF0123',
  requestedAt: '2026-01-02T03:04:05.123456Z',
  kind: 'vehicle',
  query: { key: 'vin', value: 'WVWZZZ1KZ6W612345', purpose: 'criminal-offences' },
};

describe('messages (2008/616/JHA Art. 8)', () => {
  it('accepts a well-formed request and refuses unknown fields', () => {
    expect(check(SearchRequest, request)).toBe(true);
    expect(check(SearchRequest, { ...request, extra: 1 })).toBe(false);
    expect(check(SearchRequest, { ...request, requestingState: 'nl' })).toBe(false);
    expect(check(SearchRequest, { ...request, messageId: 'x' })).toBe(false);
  });

  it('identifies a request across retries by everything but sentAt, whatever the key order', () => {
    const retry = { ...request, sentAt: '2026-01-02T03:09:00.000Z' };
    expect(requestDigest(retry)).toBe(requestDigest(request));
    const reordered = JSON.parse(canonicalJson(request)) as SearchRequest;
    expect(requestDigest(reordered)).toBe(requestDigest(request));
    expect(requestDigest({ ...request, query: { ...(request.query as object), value: 'VF1RFB00X62345678' } })).not.toBe(requestDigest(request));
  });

  it('sorts keys in canonical JSON', () => {
    expect(canonicalJson({ b: 1, a: [{ d: 2, c: 3 }] })).toBe('{"a":[{"c":3,"d":2}],"b":1}');
  });
});

describe('retry back-off', () => {
  it('doubles up to the cap, with jitter between half and all of it', () => {
    expect(backoffMs(1, 1000, 60_000, () => 1)).toBe(1000);
    expect(backoffMs(3, 1000, 60_000, () => 1)).toBe(4000);
    expect(backoffMs(3, 1000, 60_000, () => 0)).toBe(2000);
    expect(backoffMs(20, 1000, 60_000, () => 1)).toBe(60_000);
  });
});
