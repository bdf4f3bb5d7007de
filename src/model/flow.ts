/** The five fields a flow key can be made of, in canonical order (system.md §3). */
export const KEY_FIELD_NAMES = ['SrcIP', 'DstIP', 'SrcPort', 'DstPort', 'Protocol'] as const;
export type KeyFieldName = (typeof KEY_FIELD_NAMES)[number];
