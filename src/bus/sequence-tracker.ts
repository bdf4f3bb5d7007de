/**
 * Loss accounting for core NATS: every batched message carries its stream (probe) id and a batch
 * sequence number that grows by one per message. Per stream, the tracker counts messages received,
 * messages missing (a jump forward), late ones (arriving after a later one: they fill a gap and are
 * no longer missing) and duplicates. A window of the last `WINDOW` sequence numbers tells late from
 * duplicate; older stragglers are counted as late without touching `missing` (it cannot be known
 * whether they were counted missing). A probe restart starts a new stream id, so its sequence
 * starting over is not mistaken for duplicates.
 *
 * Streams are few (one per probe); the table is bounded so garbage stream ids cannot grow it
 * without limit (the oldest stream is forgotten and counted).
 */

export interface StreamLoss {
  stream: number;
  received: number;
  missing: number;
  late: number;
  duplicate: number;
  /** Highest sequence number seen. */
  highest: number;
}

const MAX_STREAMS = 256;
/** Sequence numbers remembered per stream (a power of two). */
const WINDOW = 4096;

interface Stream extends StreamLoss {
  seen: Uint8Array;
}

export class SequenceTracker {
  readonly #streams: Stream[] = [];
  #evicted = 0;

  /** Account one message; returns how many messages were found missing just before it (0 normally). */
  observe(stream: number, sequence: number): number {
    let entry = this.#streams.find((s) => s.stream === stream);
    if (entry === undefined) {
      if (this.#streams.length >= MAX_STREAMS) {
        this.#streams.shift();
        this.#evicted++;
      }
      // a stream joined late: nothing before its first message counts as missing
      entry = { stream, received: 0, missing: 0, late: 0, duplicate: 0, highest: sequence - 1, seen: new Uint8Array(WINDOW) };
      this.#streams.push(entry);
    }
    entry.received++;
    if (sequence <= entry.highest) {
      if (entry.highest - sequence >= WINDOW) {
        entry.late++;
      } else if (entry.seen[sequence & (WINDOW - 1)] === 1) {
        entry.duplicate++;
      } else {
        entry.seen[sequence & (WINDOW - 1)] = 1;
        entry.late++;
        entry.missing--;
      }
      return 0;
    }
    const gap = sequence - entry.highest - 1;
    if (gap + 1 >= WINDOW) entry.seen.fill(0);
    else for (let s = entry.highest + 1; s < sequence; s++) entry.seen[s & (WINDOW - 1)] = 0;
    entry.seen[sequence & (WINDOW - 1)] = 1;
    entry.missing += gap;
    entry.highest = sequence;
    return gap;
  }

  /** Per-stream counters (copies). */
  get streams(): StreamLoss[] {
    return this.#streams.map(({ stream, received, missing, late, duplicate, highest }) => ({ stream, received, missing, late, duplicate, highest }));
  }

  /** Messages missing over every stream. */
  get missing(): number {
    return this.#streams.reduce((sum, s) => sum + s.missing, 0);
  }

  /** Streams forgotten because more than 256 were seen (a sign of garbage stream ids). */
  get evictedStreams(): number {
    return this.#evicted;
  }
}
