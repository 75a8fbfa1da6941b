/**
 * The offence a follow-up request is about, as a category of a fixed list, so that the requested
 * state's approver can see at once what the case is and apply its national law (Prüm Decision Arts. 5
 * and 10 leave the supply to the requested state's law, including the legal assistance rules).
 *
 * Source: the 32 categories of Council Framework Decision 2002/584/JHA (European arrest warrant),
 * Art. 2(2), OJ L 190, 18.7.2002, p. 1 — the list Member States' police and judicial authorities
 * already share, in its order and wording (shortened to a code). That list covers offences punishable
 * by at least three years; anything else is `other`, with a description. The text of the framework
 * decision is not in /work/shared/legal; the list was transcribed from the Official Journal.
 */

export interface OffenceCategory {
  /** Stable code, sent between nodes. */
  readonly code: string;
  /** The wording of FD 2002/584/JHA Art. 2(2) ('other': any offence not on that list). */
  readonly label: string;
}

export const OFFENCE_LIST_SOURCE = 'Council Framework Decision 2002/584/JHA, Art. 2(2) (OJ L 190, 18.7.2002)';

export const OFFENCE_CATEGORIES = [
  { code: 'criminal-organisation', label: 'participation in a criminal organisation' },
  { code: 'terrorism', label: 'terrorism' },
  { code: 'trafficking-in-human-beings', label: 'trafficking in human beings' },
  { code: 'child-sexual-exploitation', label: 'sexual exploitation of children and child pornography' },
  { code: 'drug-trafficking', label: 'illicit trafficking in narcotic drugs and psychotropic substances' },
  { code: 'weapons-trafficking', label: 'illicit trafficking in weapons, munitions and explosives' },
  { code: 'corruption', label: 'corruption' },
  { code: 'fraud', label: "fraud, including that affecting the financial interests of the European Communities within the meaning of the Convention of 26 July 1995 on the protection of the European Communities' financial interests" },
  { code: 'money-laundering', label: 'laundering of the proceeds of crime' },
  { code: 'counterfeiting-currency', label: 'counterfeiting currency, including of the euro' },
  { code: 'computer-crime', label: 'computer-related crime' },
  { code: 'environmental-crime', label: 'environmental crime, including illicit trafficking in endangered animal species and in endangered plant species and varieties' },
  { code: 'facilitation-of-unauthorised-entry', label: 'facilitation of unauthorised entry and residence' },
  { code: 'murder-grievous-bodily-injury', label: 'murder, grievous bodily injury' },
  { code: 'organ-trafficking', label: 'illicit trade in human organs and tissue' },
  { code: 'kidnapping-hostage-taking', label: 'kidnapping, illegal restraint and hostage-taking' },
  { code: 'racism-xenophobia', label: 'racism and xenophobia' },
  { code: 'organised-armed-robbery', label: 'organised or armed robbery' },
  { code: 'cultural-goods-trafficking', label: 'illicit trafficking in cultural goods, including antiques and works of art' },
  { code: 'swindling', label: 'swindling' },
  { code: 'racketeering-extortion', label: 'racketeering and extortion' },
  { code: 'counterfeiting-piracy', label: 'counterfeiting and piracy of products' },
  { code: 'forgery-administrative-documents', label: 'forgery of administrative documents and trafficking therein' },
  { code: 'forgery-means-of-payment', label: 'forgery of means of payment' },
  { code: 'hormonal-substances-trafficking', label: 'illicit trafficking in hormonal substances and other growth promoters' },
  { code: 'nuclear-materials-trafficking', label: 'illicit trafficking in nuclear or radioactive materials' },
  { code: 'stolen-vehicles-trafficking', label: 'trafficking in stolen vehicles' },
  { code: 'rape', label: 'rape' },
  { code: 'arson', label: 'arson' },
  { code: 'icc-crimes', label: 'crimes within the jurisdiction of the International Criminal Court' },
  { code: 'unlawful-seizure-aircraft-ships', label: 'unlawful seizure of aircraft/ships' },
  { code: 'sabotage', label: 'sabotage' },
  { code: 'other', label: 'another offence (not on the list of FD 2002/584/JHA Art. 2(2)): described in offence.description' },
] as const satisfies readonly OffenceCategory[];

export type OffenceCode = (typeof OFFENCE_CATEGORIES)[number]['code'];

export const OFFENCE_CODES: readonly OffenceCode[] = OFFENCE_CATEGORIES.map((c) => c.code);

export function isOffenceCode(value: string): value is OffenceCode {
  return (OFFENCE_CODES as readonly string[]).includes(value);
}

export function offenceLabel(code: string): string | undefined {
  return OFFENCE_CATEGORIES.find((c) => c.code === code)?.label;
}
