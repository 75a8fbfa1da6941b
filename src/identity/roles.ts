/**
 * Roles of the people who use a node.
 * - officer: specially authorised to carry out automated searches (Prüm Decision Art. 30(2)(a)).
 * - approver: grants or refuses follow-up requests for personal data under national law (Arts. 5, 10).
 * - reviewer: reviews notices and requests held for prior review.
 * - supervisor: the data-protection authority; reads the records, changes nothing (Art. 30(3), (5)).
 * - admin: manages officers, tokens and the node's reference data.
 */
export const ROLES = ['officer', 'approver', 'reviewer', 'supervisor', 'admin'] as const;
export type Role = (typeof ROLES)[number];

export function isRole(value: string): value is Role {
  return (ROLES as readonly string[]).includes(value);
}
