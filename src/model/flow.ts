/** The five fields a flow key can be made of, in the original's canonical order (docs/compatibility.md, "Flow keys"). */
export const KEY_FIELD_NAMES = ['SrcIP', 'DstIP', 'SrcPort', 'DstPort', 'Protocol'] as const;
export type KeyFieldName = (typeof KEY_FIELD_NAMES)[number];
