import type { Timestamp } from './snapshot.js';

/**
 * ISO-8601 UTC with nine fractional digits when `nanosecond` (a capture with sub-microsecond
 * timestamps), else six (microseconds, the resolution of classic captures): never more digits
 * than the input had, never fewer.
 */
export function formatTimestamp(time: Timestamp, nanosecond: boolean): string {
  const iso = new Date(time.seconds * 1000).toISOString(); // 2024-01-02T03:04:05.000Z
  const fraction = nanosecond ? String(time.nanos).padStart(9, '0') : String(Math.floor(time.nanos / 1000)).padStart(6, '0');
  return `${iso.slice(0, 19)}.${fraction}Z`;
}
