/**
 * The manager: drives an Engine through time. It owns the two task groups (`exact`, `sketch`),
 * each with its writers at their own `snapshot_interval`, and the measurement `period`.
 *
 * Time is packet time in offline analysis (`clock: 'packet'`): snapshots fall at every interval of
 * capture time, so results never depend on how fast a file is read. A live engine uses the wall
 * clock (`clock: 'wall'`): its owner calls `tick()` every few hundred milliseconds, which takes the
 * snapshots and the reset that are due, and packets are never split by their timestamps. Snapshot intervals are aligned to multiples of
 * their length since the Unix epoch (UTC), e.g. a 60 s interval snapshots at every whole minute of
 * capture time. The first period starts at the first packet (so a capture shorter than the period
 * is never split), the next ones every `period` after it. A batch that straddles a boundary is
 * split at it.
 *
 * Before every period reset every group is snapshotted, for every writer and for `onPeriodEnd` (the
 * original threw away what happened since the last snapshot), and `finish()` takes a final one.
 *
 * Writes run behind the packet path: each writer has its own ordered queue, and the packet path
 * only waits when a writer is more than `maxQueuedSnapshots` behind.
 */
import { NetSpectraError } from '../model/errors.js';
import type { PacketBatch } from '../model/packet.js';
import type { ScheduledWriter, TaskGroup } from '../model/ports.js';
import type { GroupSnapshot, Timestamp } from '../model/snapshot.js';
import type { Engine } from './engine.js';


export interface ManagerOptions {
  engine: Engine;
  groups: readonly TaskGroup[];
  /** Measurement period in milliseconds (`aggregator.period`). */
  periodMs: number;
  /** Snapshots a writer may have queued before the packet path waits for it. @default 2 */
  maxQueuedSnapshots?: number;
  /** Called with every snapshot taken (after it is queued to the writers). */
  onSnapshot?: (snapshot: GroupSnapshot) => void;
  /** Called when a period ends with the last snapshot of every group (taken before the reset, delivered when the engine answers). */
  onPeriodEnd?: (snapshots: Promise<GroupSnapshot[]>) => void;
  /** Packet time (offline analysis) or wall-clock time (live). @default 'packet' */
  clock?: 'packet' | 'wall';
  /** The wall clock in ms since the epoch (tests inject their own). @default Date.now */
  now?: () => number;
  /**
   * Wall clock: the first period starts here, ms since the epoch, instead of at the first tick (an
   * engine resuming the period it was in when it stopped). @default none
   */
  firstPeriodStartMs?: number;
  /**
   * Wall clock: the first period starts at the last multiple of `periodMs` since the epoch, so that
   * every engine's periods (and period ids) agree. Ignored with `firstPeriodStartMs`. @default false
   */
  alignPeriods?: boolean;
  /**
   * A period end taken more than this many ms after it was due (held back by the owner, e.g. while
   * replaying) is stamped with the time it is taken rather than the boundary, so its rows are newer
   * than any row an earlier run wrote for that period. @default never
   */
  lateTimestampAfterMs?: number;
  /**
   * Called at every period reset with the period that begins and a promise of the number of
   * failed writes among the period-end snapshot's (resolved once every writer has finished it).
   * No writer is given anything of the new period before the returned promise settles: the owner
   * records the reset (a checkpoint) before any row of the new period can exist. @default none
   */
  periodEndBarrier?: (next: { periodId: number; periodStartMs: number }, written: Promise<number>) => Promise<void>;
}

interface WriterState {
  group: TaskGroup;
  scheduled: ScheduledWriter;
  /** Next snapshot time, ms since the epoch. */
  dueMs: number;
  queue: Promise<void>;
  queued: number;
  /** Epoch closed by the last snapshot this writer was given (-1: none yet). */
  lastEpoch: number;
}

const MS = 1000;

export class Manager {
  readonly #options: ManagerOptions;
  readonly #writers: WriterState[] = [];
  /** Errors of failed writes; the packet path goes on without them. */
  readonly writeErrors: NetSpectraError[] = [];
  #periodStartMs = Number.NaN;
  #periodEndMs = Number.NaN;
  #periodId = 0;
  /** Latest packet time seen (max), for the final snapshot's time. */
  #lastSeconds = Number.NaN;
  #lastNanos = 0;
  /** Earliest next event (snapshot or period end), ms. */
  #nextEventMs = Number.POSITIVE_INFINITY;
  /** Snapshots taken so far per group (see #take). */
  readonly #groupSnapshots = new Map<TaskGroup, number>();
  /** Snapshot and reset requests not awaited on the packet path. */
  readonly #background: Promise<void>[] = [];
  #failure: unknown;

  constructor(options: ManagerOptions) {
    this.#options = options;
    for (const group of options.groups) {
      for (const scheduled of group.writers) {
        this.#writers.push({ group, scheduled, dueMs: Number.NaN, queue: Promise.resolve(), queued: 0, lastEpoch: -1 });
      }
    }
  }

  get periodId(): number {
    return this.#periodId;
  }

  /** Newest packet time seen, ms since the epoch (NaN before the first packet). */
  get latestPacketMs(): number {
    return this.#lastSeconds * MS + this.#lastNanos / 1e6;
  }

  /** Start of the current period, ms since the epoch (NaN before the clock started). */
  get periodStartMs(): number {
    return this.#periodStartMs;
  }

  /** Account a batch (the manager owns it from here), taking every snapshot and reset it crosses. */
  async ingest(batch: PacketBatch): Promise<void> {
    const engine = this.#options.engine;
    if (this.#options.clock === 'wall') {
      this.#ensureWallClock();
      this.#noteLatest(batch, batch.count);
      await engine.submit(batch);
      return;
    }
    let current = batch;
    while (current.count > 0) {
      if (Number.isNaN(this.#periodEndMs)) this.#beginClock(current.tsSeconds[0]! * MS + current.tsNanos[0]! / 1e6);
      const split = this.#firstAtOrAfter(current, this.#nextEventMs);
      this.#noteLatest(current, split);
      if (split === current.count) {
        await engine.submit(current);
        return;
      }
      // Packets from the boundary on go to a fresh batch, after the snapshot.
      const rest = engine.pool.acquire();
      for (let i = split; i < current.count; i++) rest.copyPacketFrom(current, i);
      current.count = split;
      await engine.submit(current);
      const at = rest.tsSeconds[0]! * MS + rest.tsNanos[0]! / 1e6;
      await this.#runEventsUpTo(at);
      current = rest;
    }
    engine.pool.release(current);
  }

  /** Wall clock only: take the snapshots and the period reset due by now. */
  async tick(): Promise<void> {
    if (this.#options.clock !== 'wall') return;
    this.#ensureWallClock();
    await this.#runEventsUpTo(this.#now());
  }

  /** Final snapshot of every group (written to every writer), then wait for all writes. */
  async finish(): Promise<GroupSnapshot[]> {
    const wall = this.#options.clock === 'wall';
    const time: Timestamp = wall ? msToTimestamp(this.#now()) : Number.isNaN(this.#lastSeconds) ? msToTimestamp(this.#now()) : { seconds: this.#lastSeconds, nanos: this.#lastNanos };
    const finals: Promise<GroupSnapshot>[] = [];
    for (const group of this.#options.groups) {
      const { snapshot, epoch } = this.#take(group, time, 'final');
      finals.push(snapshot);
      for (const state of this.#writers) if (state.group === group) this.#enqueue(state, snapshot, epoch);
    }
    await Promise.all(this.#background);
    if (this.#failure !== undefined) {
      throw this.#failure instanceof Error ? this.#failure : new NetSpectraError('NS_ERR_WORKER_FAILED', 'the engine failed', { cause: this.#failure });
    }
    await Promise.all(this.#writers.map((s) => s.queue));
    return Promise.all(finals);
  }

  #now(): number {
    return (this.#options.now ?? Date.now)();
  }

  #ensureWallClock(): void {
    if (!Number.isNaN(this.#periodEndMs)) return;
    const now = this.#now();
    const first = this.#options.firstPeriodStartMs;
    // resuming: no snapshot times in the past, which an earlier process may have used already
    if (first !== undefined) this.#beginClock(first, now);
    else if (this.#options.alignPeriods === true) this.#beginClock(Math.floor(now / this.#options.periodMs) * this.#options.periodMs);
    else this.#beginClock(now);
  }

  #beginClock(firstMs: number, snapshotsAfterMs = firstMs): void {
    this.#startPeriod(firstMs);
    for (const state of this.#writers) {
      const interval = state.scheduled.intervalMs;
      state.dueMs = (Math.floor(snapshotsAfterMs / interval) + 1) * interval;
    }
    this.#updateNextEvent();
  }

  #startPeriod(startMs: number): void {
    this.#periodStartMs = startMs;
    this.#periodEndMs = startMs + this.#options.periodMs;
    this.#periodId = Math.floor(startMs / MS);
  }

  #updateNextEvent(): void {
    let next = this.#periodEndMs;
    for (const state of this.#writers) if (state.dueMs < next) next = state.dueMs;
    this.#nextEventMs = next;
  }

  /** Index of the first packet at or after `ms` (count when none). */
  #firstAtOrAfter(batch: PacketBatch, ms: number): number {
    const seconds = Math.floor(ms / MS);
    const nanos = Math.round((ms - seconds * MS) * 1e6);
    const ts = batch.tsSeconds;
    const ns = batch.tsNanos;
    for (let i = 0; i < batch.count; i++) {
      const s = ts[i]!;
      if (s > seconds || (s === seconds && ns[i]! >= nanos)) return i;
    }
    return batch.count;
  }

  #noteLatest(batch: PacketBatch, upTo: number): void {
    for (let i = 0; i < upTo; i++) {
      const s = batch.tsSeconds[i]!;
      const n = batch.tsNanos[i]!;
      if (!(s < this.#lastSeconds || (s === this.#lastSeconds && n <= this.#lastNanos))) {
        this.#lastSeconds = s;
        this.#lastNanos = n;
      }
    }
  }

  /**
   * Take every snapshot due at or before `ms`, and the period reset if it is due, in time order.
   *
   * Nothing here waits for the engine: a snapshot or reset request is posted to every thread in
   * order with the batches (each thread handles its messages in order, so a snapshot still sees
   * exactly the packets before it), and the packet path goes on while the workers answer. Waiting
   * would drain the whole pipeline at every snapshot and leave every core idle in turn.
   */
  async #runEventsUpTo(ms: number): Promise<void> {
    while (this.#nextEventMs <= ms) {
      const eventMs = this.#nextEventMs;
      const due = this.#writers.filter((s) => s.dueMs === eventMs);
      const periodEnds = eventMs === this.#periodEndMs;
      const late = this.#options.lateTimestampAfterMs;
      const time = msToTimestamp(periodEnds && late !== undefined && ms - eventMs > late ? ms : eventMs);
      const periodSnapshots: Promise<GroupSnapshot>[] = [];
      for (const group of this.#options.groups) {
        // at a period end every group is snapshotted and every writer gets it, whatever its interval
        const writers = periodEnds ? this.#writers.filter((s) => s.group === group) : due.filter((s) => s.group === group);
        if (writers.length === 0 && !periodEnds) continue;
        // Writers that store changes only get a delta since the oldest snapshot one of them holds;
        // period ends (folded into the run's report) and anything else get every flow.
        const deltas = !periodEnds && writers.every((w) => w.scheduled.writer.acceptsDeltas === true && w.lastEpoch >= 0);
        const since = deltas ? Math.min(...writers.map((w) => w.lastEpoch)) : -1;
        const { snapshot, epoch } = this.#take(group, time, periodEnds ? 'period-end' : 'interval', since);
        if (periodEnds) periodSnapshots.push(snapshot);
        for (const state of writers) await this.#enqueueWithBackpressure(state, snapshot, epoch);
      }
      for (const state of due) state.dueMs += state.scheduled.intervalMs;
      if (periodEnds) {
        // tracked: a failure surfaces in finish(), and the next submit() refuses to go on
        void this.#track(this.#options.engine.reset());
        this.#options.onPeriodEnd?.(this.#track(Promise.all(periodSnapshots)));
        const period = this.#options.periodMs;
        // skip empty periods in a gap of the capture
        this.#startPeriod(this.#periodStartMs + Math.floor((ms - this.#periodStartMs) / period) * period);
        for (const state of this.#writers) {
          const interval = state.scheduled.intervalMs;
          state.dueMs = (Math.floor(ms / interval) + 1) * interval;
        }
        this.#barrier();
      } else {
        for (const state of this.#writers) {
          // skip intervals with no packets (a quiet gap in the capture) instead of repeating snapshots
          if (state.dueMs <= ms) state.dueMs = (Math.floor(ms / state.scheduled.intervalMs) + 1) * state.scheduled.intervalMs;
        }
      }
      this.#updateNextEvent();
    }
  }

  /** Hold every writer's later writes until the owner's `periodEndBarrier` for the period just begun settles. */
  #barrier(): void {
    const barrier = this.#options.periodEndBarrier;
    if (barrier === undefined) return;
    const errorsBefore = this.writeErrors.length;
    // the queues never reject: a failed write is recorded in writeErrors
    const written = Promise.all(this.#writers.map((s) => s.queue)).then(() => this.writeErrors.length - errorsBefore);
    const gate = barrier({ periodId: this.#periodId, periodStartMs: this.#periodStartMs }, written).catch(() => undefined);
    for (const state of this.#writers) state.queue = gate;
  }

  /**
   * Ask the engine for a snapshot of a group (posted now, answered later). `epoch` is the epoch it
   * closes: every exact table of the group is snapshotted exactly once per group snapshot, so it
   * is the number of snapshots of the group taken before this one.
   */
  #take(group: TaskGroup, time: Timestamp, reason: GroupSnapshot['reason'], sinceEpoch = -1): { snapshot: Promise<GroupSnapshot>; epoch: number } {
    const epoch = this.#groupSnapshots.get(group) ?? 0;
    this.#groupSnapshots.set(group, epoch + 1);
    const periodId = this.#periodId;
    const tasks = group.taskNames.length === 0 ? Promise.resolve([]) : this.#options.engine.snapshot(group.taskNames, sinceEpoch);
    const snapshot = tasks.then((list): GroupSnapshot => {
      const taken: GroupSnapshot = { group: group.name, time, periodId, reason, tasks: list };
      this.#options.onSnapshot?.(taken);
      return taken;
    });
    return { snapshot: this.#track(snapshot), epoch };
  }

  /** Remember a background promise: its failure is reported by `finish()` (and never unhandled). */
  #track<T>(promise: Promise<T>): Promise<T> {
    this.#background.push(
      promise.then(
        () => undefined,
        (error: unknown) => {
          this.#failure ??= error;
        },
      ),
    );
    return promise;
  }

  async #enqueueWithBackpressure(state: WriterState, snapshot: Promise<GroupSnapshot>, epoch: number): Promise<void> {
    const limit = this.#options.maxQueuedSnapshots ?? 2;
    if (state.queued >= limit) await state.queue;
    this.#enqueue(state, snapshot, epoch);
  }

  #enqueue(state: WriterState, snapshot: Promise<GroupSnapshot>, epoch: number): void {
    state.lastEpoch = epoch;
    state.queued++;
    state.queue = state.queue.then(async () => {
      try {
        await state.scheduled.writer.write(await snapshot);
      } catch (error) {
        // an engine failure is reported by finish(); this is about the writer
        if (this.#failure === undefined) {
          this.writeErrors.push(
            error instanceof NetSpectraError
              ? error
              : new NetSpectraError('NS_ERR_STORE_WRITE', `${state.scheduled.writer.description}: ${String(error)}`, { cause: error }),
          );
        }
      } finally {
        state.queued--;
      }
    });
  }
}

function msToTimestamp(ms: number): Timestamp {
  const seconds = Math.floor(ms / MS);
  return { seconds, nanos: Math.round((ms - seconds * MS) * 1e6) };
}

