/**
 * How the dashboard prints numbers and times. Every printed number is rounded for reading but
 * keeps its exact value beside it (data-value for tests and scripts, title for people), so that
 * "1.2 MB" can always be checked against the API's 1234567.
 *
 * The locale is fixed (en-US: `,` for thousands, `.` for decimals) so that a page reads the same on
 * every machine and tests can compare text; units are SI (powers of 1000), as network rates are.
 */

const LOCALE = 'en-US';
const integerFormat = new Intl.NumberFormat(LOCALE, { maximumFractionDigits: 0 });
const shortFormat = new Intl.NumberFormat(LOCALE, { maximumFractionDigits: 2, minimumFractionDigits: 0 });
const preciseFormat = new Intl.NumberFormat(LOCALE, { maximumFractionDigits: 6 });

/** 1234567 → "1,234,567" (rounded to an integer). */
export function formatCount(value: number): string {
  return integerFormat.format(value);
}

/** A number with its fraction kept (up to 6 digits): for titles showing an exact rate. */
export function formatPrecise(value: number): string {
  return preciseFormat.format(value);
}

const SI_PREFIXES = ['', 'k', 'M', 'G', 'T', 'P', 'E'] as const;

/** 1234567 with unit "B" → "1.23 MB"; below 1000 the plain number ("999 B", "12.5 pkt/s"). */
export function formatSI(value: number, unit: string): string {
  if (!Number.isFinite(value)) return `– ${unit}`;
  let scaled = Math.abs(value);
  let prefix = 0;
  while (scaled >= 999.995 && prefix < SI_PREFIXES.length - 1) {
    scaled /= 1000;
    prefix++;
  }
  const sign = value < 0 ? '-' : '';
  const digits = prefix === 0 ? shortFormat.format(scaled) : scaled.toFixed(scaled >= 100 ? 0 : scaled >= 10 ? 1 : 2);
  return `${sign}${digits} ${SI_PREFIXES[prefix]}${unit}`;
}

export const formatBytes = (bytes: number): string => formatSI(bytes, 'B');
export const formatBitRate = (bitsPerSecond: number): string => formatSI(bitsPerSecond, 'bit/s');
export const formatPacketRate = (packetsPerSecond: number): string => formatSI(packetsPerSecond, 'pkt/s');

/** Nanoseconds since the epoch (decimal text, as the API sends int64) → "2013-05-02 20:20:33.491 UTC". */
export function formatTimeNs(ns: string | bigint): string {
  const text = typeof ns === 'bigint' ? ns.toString() : ns;
  if (!/^\d+$/.test(text)) return text;
  const ms = Number(BigInt(text) / 1_000_000n);
  const date = new Date(ms);
  if (Number.isNaN(date.getTime())) return text;
  return `${date.toISOString().replace('T', ' ').replace('Z', '')} UTC`;
}

/** The short form for table cells and chart axes: the time of day when the span is within a day. */
export function formatClock(ms: number, spanMs: number): string {
  const iso = new Date(ms).toISOString();
  if (spanMs <= 60_000) return iso.slice(11, 23);
  if (spanMs <= 86_400_000) return iso.slice(11, 19);
  return `${iso.slice(0, 10)} ${iso.slice(11, 16)}`;
}

/** A duration in ms for people: 90000 → "1m 30s". */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${formatCount(ms)} ms`;
  const parts: string[] = [];
  let seconds = Math.round(ms / 1000);
  const units: [number, string][] = [
    [86_400, 'd'],
    [3_600, 'h'],
    [60, 'm'],
    [1, 's'],
  ];
  for (const [size, name] of units) {
    if (seconds >= size) {
      parts.push(`${Math.floor(seconds / size)}${name}`);
      seconds %= size;
    }
  }
  return parts.slice(0, 2).join(' ');
}

/** IANA protocol numbers the dashboard names; others print as their number. */
const PROTOCOL_NAMES: Readonly<Record<number, string>> = {
  1: 'ICMP',
  2: 'IGMP',
  6: 'TCP',
  17: 'UDP',
  41: 'IPv6',
  47: 'GRE',
  50: 'ESP',
  51: 'AH',
  58: 'ICMPv6',
  89: 'OSPF',
  132: 'SCTP',
};

export function protocolName(protocol: number): string {
  return PROTOCOL_NAMES[protocol] ?? `proto ${protocol}`;
}

export const KNOWN_PROTOCOLS: readonly [number, string][] = Object.entries(PROTOCOL_NAMES).map(([number, name]) => [Number(number), name]);
