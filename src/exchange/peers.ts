/**
 * The peer nodes this node searches: state → address of its peer interface. The address says only
 * where a state's node is reached; that it is that state's node, its federation certificate proves at
 * every connection (the TLS handshake checks the certificate names the state we meant to reach).
 */
import { sql, type Kysely } from 'kysely';
import type { Schema } from '../db/schema.ts';
import { OpenPrumError } from '../errors/index.ts';

export interface Peer {
  readonly country: string;
  readonly url: string;
  readonly addedAt: string;
  readonly updatedAt: string;
}

export function checkPeerUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new OpenPrumError('usage', `--url must be an https:// address such as https://nl.example:9443, not ${JSON.stringify(raw)}`);
  }
  if (url.protocol !== 'https:') throw new OpenPrumError('usage', 'Peers are reached over HTTPS with mutual TLS: the URL must start with https://');
  if (url.username || url.password || url.search || url.hash) throw new OpenPrumError('usage', 'The peer URL must not carry credentials, a query or a fragment');
  return url.origin + url.pathname.replace(/\/+$/, '');
}

/** Adds a peer, or changes its address. */
export async function addPeer(db: Kysely<Schema>, ownCountry: string, countryRaw: string, urlRaw: string): Promise<Peer> {
  const country = countryRaw.trim().toUpperCase();
  if (!/^[A-Z]{2}$/.test(country)) throw new OpenPrumError('usage', `--country must be a two-letter code such as DE, not ${JSON.stringify(countryRaw)}`);
  if (country === ownCountry) throw new OpenPrumError('usage', `${country} is this node's own state; a peer is another state's node`);
  const url = checkPeerUrl(urlRaw);
  const row = await db
    .insertInto('federation_peers')
    .values({ country, url, updated_at: sql<string>`now()` })
    .onConflict((oc) => oc.column('country').doUpdateSet({ url, updated_at: sql<string>`now()` }))
    .returningAll()
    .executeTakeFirstOrThrow();
  return toPeer(row);
}

export async function removePeer(db: Kysely<Schema>, country: string): Promise<void> {
  const r = await db.deleteFrom('federation_peers').where('country', '=', country.toUpperCase()).executeTakeFirst();
  if (Number(r.numDeletedRows) === 0) throw new OpenPrumError('peer-unknown', `No peer is configured for ${country}`);
}

export async function listPeers(db: Kysely<Schema>): Promise<Peer[]> {
  const rows = await db.selectFrom('federation_peers').selectAll().orderBy('country').execute();
  return rows.map(toPeer);
}

export async function getPeer(db: Kysely<Schema>, country: string): Promise<Peer | undefined> {
  const row = await db.selectFrom('federation_peers').selectAll().where('country', '=', country).executeTakeFirst();
  return row ? toPeer(row) : undefined;
}

function toPeer(r: { country: string; url: string; added_at: string; updated_at: string }): Peer {
  return { country: r.country, url: r.url, addedAt: r.added_at, updatedAt: r.updated_at };
}
