/** Top-N selection over a snapshot's flow columns, without sorting every flow. */
import type { FlowColumns } from './snapshot.js';

export type RankBy = 'bytes' | 'packets';

/**
 * Indices of the `n` largest flows by `by` (ties: the other counter, then key order of arrival),
 * largest first. O(flows × log n) with a bounded min-heap.
 */
export function topFlowIndices(flows: FlowColumns, n: number, by: RankBy): number[] {
  const primary = by === 'bytes' ? flows.bytes : flows.packets;
  const secondary = by === 'bytes' ? flows.packets : flows.bytes;
  // true when flow a ranks below flow b
  const below = (a: number, b: number): boolean =>
    primary[a]! < primary[b]! || (primary[a] === primary[b] && (secondary[a]! < secondary[b]! || (secondary[a] === secondary[b] && a > b)));
  const heap: number[] = [];
  const siftUp = (i: number): void => {
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!below(heap[i]!, heap[parent]!)) break;
      [heap[i], heap[parent]] = [heap[parent]!, heap[i]!];
      i = parent;
    }
  };
  const siftDown = (i: number): void => {
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < heap.length && below(heap[l]!, heap[m]!)) m = l;
      if (r < heap.length && below(heap[r]!, heap[m]!)) m = r;
      if (m === i) return;
      [heap[i], heap[m]] = [heap[m]!, heap[i]!];
      i = m;
    }
  };
  if (n <= 0) return [];
  for (let i = 0; i < flows.count; i++) {
    if (heap.length < n) {
      heap.push(i);
      siftUp(heap.length - 1);
    } else if (below(heap[0]!, i)) {
      heap[0] = i;
      siftDown(0);
    }
  }
  return heap.sort((a, b) => (below(a, b) ? 1 : below(b, a) ? -1 : 0));
}
