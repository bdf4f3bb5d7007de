/**
 * Address text forms: IPv4 dotted quads and RFC 5952 IPv6 (lower case, longest run of two or more
 * zero groups compressed, leftmost on ties; IPv4-mapped addresses keep the `::ffff:a.b.c.d` form).
 */

/** Format 4 address words (see PacketBatch) for the given family. */
export function formatAddressWords(words: ArrayLike<number>, offset: number, family: number): string {
  if (family === 4) return formatIPv4(words[offset + 3]!);
  return formatIPv6Words(words, offset);
}

export function formatIPv4(word: number): string {
  return `${word >>> 24}.${(word >>> 16) & 0xff}.${(word >>> 8) & 0xff}.${word & 0xff}`;
}

export function formatIPv6Words(words: ArrayLike<number>, offset: number): string {
  const groups = new Array<number>(8);
  for (let i = 0; i < 4; i++) {
    const w = words[offset + i]! >>> 0;
    groups[i * 2] = w >>> 16;
    groups[i * 2 + 1] = w & 0xffff;
  }
  // IPv4-mapped (::ffff:0:0/96) prints its last 32 bits as a dotted quad (RFC 5952 §5).
  if (groups[0] === 0 && groups[1] === 0 && groups[2] === 0 && groups[3] === 0 && groups[4] === 0 && groups[5] === 0xffff) {
    return `::ffff:${formatIPv4(words[offset + 3]! >>> 0)}`;
  }
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = (from: number, to: number): string => groups.slice(from, to).map((g) => g.toString(16)).join(':');
  if (bestStart < 0) return hex(0, 8);
  return `${hex(0, bestStart)}::${hex(bestStart + bestLength, 8)}`;
}

/**
 * Parse an IPv4 or IPv6 address into 4 words (IPv4 mapped) and its family, or undefined when the
 * text is not an address. Used by filters and tests, never on the hot path.
 */
export function parseAddress(text: string): { words: [number, number, number, number]; family: 4 | 6 } | undefined {
  const v4 = parseIPv4(text);
  if (v4 !== undefined) return { words: [0, 0, 0xffff, v4], family: 4 };
  const v6 = parseIPv6(text);
  if (v6 !== undefined) return { words: v6, family: 6 };
  return undefined;
}

function parseIPv4(text: string): number | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  let word = 0;
  for (const part of parts) {
    if (!/^\d{1,3}$/.test(part)) return undefined;
    const value = Number(part);
    if (value > 255) return undefined;
    word = word * 256 + value;
  }
  return word >>> 0;
}

function parseIPv6(text: string): [number, number, number, number] | undefined {
  if (!/^[0-9a-fA-F:.]+$/.test(text)) return undefined;
  let tail: number[] = [];
  let body = text;
  const lastColon = text.lastIndexOf(':');
  if (text.includes('.')) {
    const v4 = parseIPv4(text.slice(lastColon + 1));
    if (v4 === undefined) return undefined;
    tail = [v4 >>> 16, v4 & 0xffff];
    body = text.slice(0, lastColon + 1) + '0';
  }
  const halves = body.split('::');
  if (halves.length > 2) return undefined;
  const parseGroups = (s: string): number[] | undefined => {
    if (s === '') return [];
    const out: number[] = [];
    for (const g of s.split(':')) {
      if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return undefined;
      out.push(parseInt(g, 16));
    }
    return out;
  };
  const head = parseGroups(halves[0]!);
  const rest = halves.length === 2 ? parseGroups(halves[1]!) : [];
  if (head === undefined || rest === undefined) return undefined;
  let groups: number[];
  if (tail.length > 0) {
    // the placeholder '0' stands for the two groups of the dotted tail
    const all = halves.length === 2 ? rest : head;
    all.pop();
    all.push(...tail);
  }
  if (halves.length === 2) {
    const missing = 8 - head.length - rest.length;
    if (missing < 1) return undefined;
    groups = [...head, ...new Array<number>(missing).fill(0), ...rest];
  } else {
    if (head.length !== 8) return undefined;
    groups = head;
  }
  return [
    ((groups[0]! << 16) | groups[1]!) >>> 0,
    ((groups[2]! << 16) | groups[3]!) >>> 0,
    ((groups[4]! << 16) | groups[5]!) >>> 0,
    ((groups[6]! << 16) | groups[7]!) >>> 0,
  ];
}
