/**
 * The Rekor entry types provenant writes for DSSE envelopes (`transparency.entry-type`). One list of
 * names, used by config validation and by the witness (STYLE.md #7).
 */
export const transparencyEntryTypes = ['dsse', 'intoto'] as const;
export type TransparencyEntryType = (typeof transparencyEntryTypes)[number];
export const defaultTransparencyEntryType: TransparencyEntryType = 'dsse';
