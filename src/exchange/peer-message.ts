/**
 * Opening a signed message that arrived at the peer interface, the same way for every kind of message
 * (searches, bulk chunks, follow-ups, notices, safeguards): the order of checks matters.
 *
 * 1. The signature, over the bytes as received: nothing in an unsigned or forged message is believed,
 *    not even its id. The signer's state must be the TLS client's state.
 * 2. The body is JSON of the expected shape.
 * 3. The state the message speaks for is its sender's (2008/616/JHA Art. 8(1)(a)), and it is addressed
 *    to this node.
 * 4. It was sent within the replay window of this node's time.
 *
 * Refusals are OpenPrumErrors. From step 2 on, `quote(error, json)` lets the caller attach what of
 * the message may be quoted in the record of the refusal (an id, a reference; never unchecked data).
 */
import type { Static, TSchema } from 'typebox';
import { isOpenPrumError, OpenPrumError } from '../errors/index.ts';
import { check, describeProblems, validate } from '../util/validate.ts';
import type { ExchangeContext, TlsPeer } from './context.ts';
import { SignatureError, verifyDetached } from './jws.ts';
import { PeerProblem, REPLAY_WINDOW_MS } from './messages.ts';
import type { PeerResponse } from './peer-client.ts';

/** The fields every message between nodes has: an id and a time (and its sender's and addressee's state, see OpenOptions.fields). */
export interface PeerEnvelope {
  readonly messageId: string;
  readonly sentAt: string;
}

export interface OpenOptions {
  /**
   * The fields that name the sender's and the addressee's state. Default: a request, from
   * `requestingState` to `requestedState`; an answer goes the other way.
   */
  readonly fields?: { readonly sender: string; readonly addressee: string };
  /** Decorates a refusal raised after the body was parsed (e.g. with what the record may quote). */
  readonly quote?: (error: OpenPrumError, json: unknown) => OpenPrumError;
}

export interface Opened<T> {
  readonly message: T;
  /** The SHA-256 fingerprint of the signer's certificate. */
  readonly signer: string;
}

/** Step 1 alone: the signature and that its signer is the TLS client. Returns the signer's fingerprint. */
export function verifyPeerSignature(ctx: ExchangeContext, tls: TlsPeer, raw: string, jws: string | undefined): string {
  let signer: { country: string; fingerprint: string };
  try {
    signer = verifyDetached(jws, raw, ctx.trust(), ctx.now());
  } catch (e) {
    if (e instanceof SignatureError) throw new OpenPrumError('peer-signature-invalid', e.message);
    throw e;
  }
  if (signer.country !== tls.country) {
    throw new OpenPrumError('peer-identity-mismatch', `The message is signed by the node of ${signer.country} but sent over the connection of ${tls.country}`);
  }
  return signer.fingerprint;
}

/** Steps 1-4: returns the message, or throws a refusal. */
export function openPeerMessage<S extends TSchema>(ctx: ExchangeContext, tls: TlsPeer, raw: string, jws: string | undefined, schema: S, what: string, options: OpenOptions = {}): Opened<Static<S>> {
  const signer = verifyPeerSignature(ctx, tls, raw, jws);
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch (e) {
    throw new OpenPrumError('peer-message-invalid', `The body is not JSON: ${(e as Error).message}`);
  }
  const quote = (e: OpenPrumError) => (options.quote ? options.quote(e, json) : e);
  let message: Static<S> & PeerEnvelope;
  try {
    message = validate(schema, json, 'peer-message-invalid', what) as Static<S> & PeerEnvelope;
  } catch (e) {
    throw isOpenPrumError(e) ? quote(e) : e;
  }
  const { sender, addressee: to } = options.fields ?? { sender: 'requestingState', addressee: 'requestedState' };
  const states = message as unknown as Record<string, unknown>;
  // A message claiming another state is not believed, so it is not quoted either.
  if (states[sender] !== tls.country) throw new OpenPrumError('peer-identity-mismatch', `The node of ${tls.country} cannot send a ${what} of ${String(states[sender])}`);
  const addressee = String(states[to]);
  if (addressee !== ctx.country) throw quote(new OpenPrumError('peer-misdirected', `This is the node of ${ctx.country}; the ${what} is addressed to ${addressee}`));
  const sentAt = Date.parse(message.sentAt);
  if (!Number.isFinite(sentAt) || Math.abs(ctx.now().getTime() - sentAt) > REPLAY_WINDOW_MS) {
    throw quote(
      new OpenPrumError(
        'peer-message-expired',
        `The message was sent at ${message.sentAt}, more than ${REPLAY_WINDOW_MS / 60_000} minutes from this node's time ${ctx.now().toISOString()}; send it again with a fresh sentAt (and check the clocks)`,
      ),
    );
  }
  return { message, signer };
}

/**
 * A 200 reply of a peer node: signed by the state the message went to, JSON of the expected shape.
 * Throws peer-answer-invalid (a reply that cannot be believed is retried, never stored).
 */
export function openPeerReply<S extends TSchema>(ctx: ExchangeContext, response: PeerResponse, state: string, schema: S): Static<S> {
  let signer: string;
  try {
    signer = verifyDetached(response.jws, response.body, ctx.trust(), ctx.now()).country;
  } catch (e) {
    throw new OpenPrumError('peer-answer-invalid', `The reply of ${state} is refused: ${(e as Error).message}`);
  }
  if (signer !== state) throw new OpenPrumError('peer-answer-invalid', `The reply from ${state} is signed by ${signer}`);
  let json: unknown;
  try {
    json = JSON.parse(response.body);
  } catch {
    throw new OpenPrumError('peer-answer-invalid', `The reply of ${state} is not JSON`);
  }
  if (!check(schema, json)) throw new OpenPrumError('peer-answer-invalid', `The reply of ${state} does not match the protocol: ${describeProblems(schema, json)[0]?.message ?? ''}`);
  return json;
}

/** The code and detail of a peer's refusal (problem+json), saying when it is not signed by that state. */
export function readPeerProblem(ctx: ExchangeContext, response: PeerResponse, state: string): { code: string; detail: string } {
  let json: unknown;
  try {
    json = JSON.parse(response.body);
  } catch {
    return { code: `http-${response.status}`, detail: `The node of ${state} answered ${response.status} without problem details` };
  }
  if (!check(PeerProblem, json)) return { code: `http-${response.status}`, detail: `The node of ${state} answered ${response.status}` };
  let verified = false;
  try {
    verified = verifyDetached(response.jws, response.body, ctx.trust(), ctx.now()).country === state;
  } catch {
    verified = false;
  }
  return { code: json.code, detail: `${json.detail}${verified ? '' : ' (the refusal is not signed by that state)'}` };
}
