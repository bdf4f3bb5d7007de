/**
 * The task limits are one table (src/model/task-limits.ts) read by the config loader and by the
 * engine: every task configuration that loads must also build in the engine, and every value
 * outside the table must be refused at load with the range named. The engine's tasks are built
 * here straight from the loaded config, as the engine's caller maps them (a fixed seed where the
 * config leaves it to chance), then fed packets and snapshotted.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../../src/config/index.js';
import type { NetSpectraConfig } from '../../src/config/index.js';
import { ExactTask } from '../../src/engine/tasks/exact-task.js';
import { HeavyHitterSketch } from '../../src/engine/tasks/heavy-hitter-sketch.js';
import { createSketchTask, validateSketchTask } from '../../src/engine/tasks/sketch-task.js';
import type { SketchTaskParams } from '../../src/engine/tasks/sketch-contract.js';
import { SuperSpreadSketch } from '../../src/engine/tasks/super-spread-sketch.js';
import { NetSpectraError } from '../../src/model/errors.js';
import { KEY_FIELD_NAMES } from '../../src/model/flow.js';
import type { PacketBatch } from '../../src/model/packet.js';
import { describeLimit, TASK_LIMITS, type NumberLimit } from '../../src/model/task-limits.js';
import { Sfc32 } from '../../src/synth/prng.js';
import { fillBatches, randomPackets } from '../kit/random-packets.js';

type Kind = 'heavyHitter' | 'superSpread' | 'exact';
type Task = Record<string, unknown>;

const BASE_TASKS: Readonly<Record<Kind, Task>> = {
  heavyHitter: { name: 't', skt_type: 0, flow_fields: ['SrcIP'], width: 64, depth: 2 },
  superSpread: { name: 't', skt_type: 1, flow_fields: ['SrcIP'], element_fields: ['DstIP'], width: 64, depth: 2, m: 64, size: 5 },
  exact: { name: 't', key_fields: ['SrcIP', 'DstPort'] },
};

/** JSON is YAML: one task of `kind` in a config that runs only its group. */
function yamlOf(kind: Kind, task: Task): string {
  const group = kind === 'exact' ? 'exact' : 'sketch';
  return JSON.stringify({ aggregator: { types: [group], [group]: { tasks: [task] } } });
}

const load = (kind: Kind, task: Task): NetSpectraConfig => parseConfig(yamlOf(kind, task), { file: 'limits.yaml', env: {} });

const BATCHES: readonly PacketBatch[] = fillBatches(randomPackets(600, 11), 256);

/** The engine parameters of a loaded sketch task, as the engine's caller derives them. */
function sketchParams(config: NetSpectraConfig): SketchTaskParams {
  const t = config.aggregator.sketch.tasks[0]!;
  return { ...t, flowFields: [...t.flowFields], elementFields: [...t.elementFields], seed: t.seed ?? 1 };
}

/** Build every task of the loaded config in the engine, feed it packets and take a snapshot. */
function build(kind: Kind, config: NetSpectraConfig): void {
  if (kind === 'exact') {
    const t = config.aggregator.exact.tasks[0]!;
    const task = new ExactTask({ name: t.name, keyFields: [...t.keyFields], seed: 1 });
    for (const batch of BATCHES) task.ingest(batch);
    assert.ok(task.snapshot().flows.count > 0);
    return;
  }
  const task = createSketchTask(sketchParams(config));
  for (const batch of BATCHES) task.ingest(batch);
  assert.ok(task.memoryBytes() > 0);
  // A snapshot scans every bucket (seconds for the largest tables, which are here to be built, not read).
  if (task.memoryBytes() <= SNAPSHOT_MAX_BYTES) assert.equal(task.snapshot().name, 't');
}

const SNAPSHOT_MAX_BYTES = 64 * 1024 * 1024;

const nextUp = (x: number): number => stepDouble(x, 1);
const nextDown = (x: number): number => stepDouble(x, -1);
/** The adjacent double (for positive x), to stand just inside or outside an exclusive bound. */
function stepDouble(x: number, direction: 1 | -1): number {
  if (x === 0) return direction === 1 ? Number.MIN_VALUE : -Number.MIN_VALUE;
  const bits = new BigInt64Array(new Float64Array([x]).buffer);
  bits[0] = bits[0]! + BigInt(direction);
  return new Float64Array(bits.buffer)[0]!;
}

/** The smallest and the largest allowed value of a limit. */
function insideValues(limit: NumberLimit): [number, number] {
  const low = limit.minExclusive === true ? (limit.integer ? limit.min + 1 : nextUp(limit.min)) : limit.min;
  const high = limit.max === undefined ? Number.MAX_VALUE : limit.maxExclusive === true ? (limit.integer ? limit.max - 1 : nextDown(limit.max)) : limit.max;
  return [low, high];
}

/** The nearest refused values on either side (none above a limit without a maximum). */
function outsideValues(limit: NumberLimit): number[] {
  const below = limit.minExclusive === true ? limit.min : limit.integer ? limit.min - 1 : nextDown(limit.min);
  if (limit.max === undefined) return [below];
  const above = limit.maxExclusive === true ? limit.max : limit.integer ? limit.max + 1 : nextUp(limit.max);
  return [below, above];
}

/**
 * A per-field limit, where it applies, and the other keys that keep the rest of the task small
 * (and within the cross-field limits) while the field sits at its bounds.
 */
interface FieldCase {
  limit: NumberLimit;
  kinds: readonly Kind[];
  context?: Task;
}

const S = TASK_LIMITS.sketch;
const FIELD_CASES: readonly FieldCase[] = [
  { limit: S.width, kinds: ['heavyHitter', 'superSpread'], context: { depth: 1, m: 1, size: 1 } },
  { limit: S.depth, kinds: ['heavyHitter', 'superSpread'] },
  { limit: S.sizeThreshold, kinds: ['heavyHitter'] },
  { limit: S.countThreshold, kinds: ['heavyHitter', 'superSpread'] },
  { limit: S.m, kinds: ['superSpread'] },
  { limit: S.size, kinds: ['superSpread'] },
  { limit: S.base, kinds: ['superSpread'] },
  { limit: S.b, kinds: ['superSpread'] },
  { limit: S.seed, kinds: ['heavyHitter', 'superSpread'] },
  { limit: TASK_LIMITS.exact.numShards, kinds: ['exact'] },
];

/** The cross-field limits at their bounds: a whole task's table at one bucket or register, and at the most allowed. */
const PRODUCT_CASES: readonly { limit: NumberLimit; kind: Kind; at: string; low: Task; high: Task; above: Task }[] = [
  {
    limit: S.buckets,
    kind: 'heavyHitter',
    at: 'width',
    low: { width: 1, depth: 1 },
    high: { width: 2 ** 21, depth: 8 },
    // 2^24 + 1 has no factor from 2 to 16, so this is the nearest product above the limit.
    above: smallestBucketsAbove(S.buckets.max!),
  },
  {
    limit: S.registers,
    kind: 'superSpread',
    at: 'm',
    // size 1 packs 32 registers into a word: the 2^30 registers take 128 MiB.
    low: { width: 1, depth: 1, m: 1 },
    high: { width: 16384, depth: 1, m: 65536, size: 1 },
    // 2^30 + 1 = 19825 × 54161
    above: { width: 19825, depth: 1, m: 54161, size: 1 },
  },
];

function smallestBucketsAbove(max: number): Task {
  let best = { width: 0, depth: 0, product: Infinity };
  for (let depth = 1; depth <= S.depth.max!; depth++) {
    const width = Math.floor(max / depth) + 1;
    if (width <= S.width.max! && width * depth < best.product) best = { width, depth, product: width * depth };
  }
  return { width: best.width, depth: best.depth };
}

const KEY_PATH = { heavyHitter: 'aggregator.sketch.tasks[0]', superSpread: 'aggregator.sketch.tasks[0]', exact: 'aggregator.exact.tasks[0]' } as const;

/** The config field a per-field limit bounds (the table's own key for it). */
function fieldOf(limit: NumberLimit): string {
  for (const group of [TASK_LIMITS.exact, TASK_LIMITS.sketch]) {
    const found = Object.entries(group).find(([, l]) => l === limit);
    if (found !== undefined) return found[0];
  }
  throw new Error(`${limit.key} is not in TASK_LIMITS`);
}

const escapeRegExp = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

function assertRefused(kind: Kind, task: Task, key: string, expected: string): void {
  assert.throws(
    () => load(kind, task),
    (error: unknown) => {
      assert.ok(error instanceof NetSpectraError, String(error));
      assert.equal(error.code, 'NS_ERR_CONFIG_INVALID_VALUE');
      assert.equal(error.location.key, `${KEY_PATH[kind]}.${key}`);
      assert.match(error.message, new RegExp(`${escapeRegExp(`${KEY_PATH[kind]}.${key}: expected ${expected}, found `)}`));
      return true;
    },
    `${JSON.stringify(task)} was not refused`,
  );
}

describe('task limits: the boundary values load and build in the engine', () => {
  it('every limit of the table is exercised here', () => {
    const covered = new Set([...FIELD_CASES, ...PRODUCT_CASES].map((c) => c.limit));
    const all = [...Object.values(TASK_LIMITS.exact), ...Object.values(TASK_LIMITS.sketch)];
    assert.deepEqual(
      all.filter((limit) => !covered.has(limit)).map((limit) => limit.key),
      [],
    );
  });

  for (const { limit, kinds, context } of FIELD_CASES) {
    for (const kind of kinds) {
      for (const value of insideValues(limit)) {
        it(`${kind}: ${limit.key} ${value}`, () => {
          const config = load(kind, { ...BASE_TASKS[kind], ...context, [limit.key]: value });
          const task: Record<string, unknown> = { ...(kind === 'exact' ? config.aggregator.exact.tasks[0] : config.aggregator.sketch.tasks[0]) };
          assert.equal(task[fieldOf(limit)], value);
          build(kind, config);
        });
      }
    }
  }

  for (const { limit, kind, low, high } of PRODUCT_CASES) {
    for (const task of [low, high]) {
      it(`${kind}: ${limit.key} at ${JSON.stringify(task)}`, () => build(kind, load(kind, { ...BASE_TASKS[kind], ...task })));
    }
  }
});

describe('task limits: one past each boundary is refused by the loader, naming the range (and by the engine too)', () => {
  for (const { limit, kinds, context } of FIELD_CASES) {
    for (const kind of kinds) {
      for (const value of outsideValues(limit)) {
        it(`${kind}: ${limit.key} ${value}`, () => {
          const task = { ...BASE_TASKS[kind], ...context, [limit.key]: value };
          assertRefused(kind, task, limit.key, describeLimit(limit));
          if (kind === 'exact') return; // num_shards: read for the original's configs, unused by the engine
          const good = sketchParams(load(kind, { ...BASE_TASKS[kind], ...context }));
          assert.throws(
            () => createSketchTask({ ...good, [fieldOf(limit)]: value }),
            (error: unknown) => error instanceof RangeError && error.message.includes(`${limit.key} must be ${describeLimit(limit)}, got ${value}`),
          );
        });
      }
    }
  }

  for (const { limit, kind, at, above } of PRODUCT_CASES) {
    it(`${kind}: ${limit.key} at ${JSON.stringify(above)}`, () => {
      const task = { ...BASE_TASKS[kind], ...above };
      assertRefused(kind, task, at, `${limit.key} to be ${describeLimit(limit)}`);
      const good = sketchParams(load(kind, BASE_TASKS[kind]));
      // refused before anything is allocated
      assert.throws(
        () => createSketchTask({ ...good, ...above }),
        (error: unknown) => error instanceof RangeError && error.message.includes(`${limit.key} must be ${describeLimit(limit)}`),
      );
    });
  }
});

const BUILD_BUDGET_BYTES = 16 * 2 ** 20;

/** What the sketch would allocate, without allocating it. */
function stateBytes(task: Task): number {
  const params = {
    width: task.width as number,
    depth: task.depth as number,
    flowFields: task.flow_fields as SketchTaskParams['flowFields'],
    m: task.m as number,
    size: task.size as number,
  };
  return task.skt_type === 0 ? HeavyHitterSketch.memoryBytesFor(params) : SuperSpreadSketch.memoryBytesFor(params);
}

describe('task limits: random tasks', () => {
  const SEED = 20240611;
  const random = new Sfc32(SEED);
  /** An integer of [min, max], log-uniform so small and large magnitudes both come up, and now and then a bound. */
  const logInt = (min: number, max: number): number => {
    if (random.nextInt(8) === 0) return random.nextInt(2) === 0 ? min : max;
    const value = Math.floor(Math.exp(random.nextFloat() * Math.log(max - min + 1))) - 1 + min;
    return Math.min(max, Math.max(min, value));
  };
  const fields = (): string[] => {
    const picked = KEY_FIELD_NAMES.filter(() => random.nextInt(2) === 0);
    return picked.length > 0 ? picked : [KEY_FIELD_NAMES[random.nextInt(KEY_FIELD_NAMES.length)]!];
  };
  /** A sketch task with every value inside its per-field range (the cross-field limits may still refuse it). */
  const randomSketchTask = (kind: 'heavyHitter' | 'superSpread'): Task => {
    const task: Task = {
      name: 't',
      skt_type: kind === 'heavyHitter' ? 0 : 1,
      flow_fields: fields(),
      width: logInt(1, S.width.max!),
      depth: random.nextRange(1, S.depth.max!),
      size_thereshold: logInt(0, S.sizeThreshold.max!),
      count_thereshold: logInt(0, S.countThreshold.max!),
      m: logInt(1, S.m.max!),
      size: random.nextRange(1, S.size.max!),
      // (0, 1) and (1, 2^1000]: never the excluded bound itself
      base: (random.nextUint32() + 0.5) / 2 ** 32,
      b: Math.max(nextUp(1), 1 + 2 ** (random.nextFloat() * 1052 - 52)),
    };
    if (kind === 'superSpread') task.element_fields = fields();
    if (random.nextInt(2) === 0) task.seed = random.nextUint32();
    return task;
  };
  /** The limits the engine checks for a kind of sketch, by the config key they are read from. */
  const engineFields = (kind: 'heavyHitter' | 'superSpread'): NumberLimit[] =>
    kind === 'heavyHitter' ? [S.width, S.depth, S.sizeThreshold, S.countThreshold, S.seed] : [S.width, S.depth, S.countThreshold, S.m, S.size, S.base, S.b, S.seed];
  const kinds = ['heavyHitter', 'superSpread'] as const;

  it(`the loader and the engine's guard accept and refuse the same tasks, in range or just outside it (seed ${SEED})`, () => {
    const outcomes = { accepted: 0, refusedField: 0, refusedProduct: 0 };
    for (let i = 0; i < 600; i++) {
      const kind = kinds[i % 2]!;
      const task = randomSketchTask(kind);
      // now and then one value just outside its range
      let outside: NumberLimit | undefined;
      if (random.nextInt(4) === 0) {
        const limits = engineFields(kind);
        outside = limits[random.nextInt(limits.length)]!;
        const values = outsideValues(outside);
        task[outside.key] = values[random.nextInt(values.length)];
      }
      let loaded: NetSpectraConfig | undefined;
      let refusal: NetSpectraError | undefined;
      try {
        loaded = load(kind, task);
      } catch (error) {
        assert.ok(error instanceof NetSpectraError && error.code === 'NS_ERR_CONFIG_INVALID_VALUE', String(error));
        refusal = error;
      }
      // the engine's view of the same values (the loader has not filled in defaults here: every key is given)
      const params: SketchTaskParams = {
        name: 't',
        sktType: task.skt_type as 0 | 1,
        flowFields: task.flow_fields as SketchTaskParams['flowFields'],
        elementFields: (task.element_fields ?? []) as SketchTaskParams['elementFields'],
        width: task.width as number,
        depth: task.depth as number,
        sizeThreshold: task.size_thereshold as number,
        countThreshold: task.count_thereshold as number,
        m: task.m as number,
        size: task.size as number,
        base: task.base as number,
        b: task.b as number,
        seed: (task.seed ?? 1) as number,
      };
      let engineRefusal: unknown;
      try {
        validateSketchTask(params);
      } catch (error) {
        engineRefusal = error;
      }
      const what = JSON.stringify(task);
      if (loaded !== undefined) {
        assert.equal(engineRefusal, undefined, `loaded but the engine refuses ${what}: ${String(engineRefusal)}`);
        assert.deepEqual(sketchParams(loaded), params);
        outcomes.accepted++;
        continue;
      }
      assert.ok(engineRefusal instanceof RangeError, `refused at load but not by the engine: ${what}`);
      if (outside !== undefined) {
        assert.ok(refusal!.message.includes(`.${outside.key}: expected ${describeLimit(outside)}, found `), refusal!.message);
        outcomes.refusedField++;
      } else {
        assert.match(refusal!.message, /: expected width × depth( × m)? to be an integer from 1 to \d+, found /);
        outcomes.refusedProduct++;
      }
    }
    // the sample reaches every outcome
    assert.ok(Object.values(outcomes).every((n) => n > 30), JSON.stringify(outcomes));
  });

  it(`accepted tasks of up to ${BUILD_BUDGET_BYTES / 2 ** 20} MiB build in the engine, take packets and snapshot (seed ${SEED})`, () => {
    // The largest tables are built by the boundary tests above; here the many combinations of the
    // other values, at sizes that keep the test quick (touching memory is slow on small machines).
    const built = { heavyHitter: 0, superSpread: 0, exact: 0 };
    for (let i = 0; i < 60; i++) {
      const kind = (['heavyHitter', 'superSpread', 'exact'] as const)[i % 3]!;
      if (kind === 'exact') {
        build(kind, load(kind, { name: 't', key_fields: fields(), num_shards: logInt(1, TASK_LIMITS.exact.numShards.max!) }));
        built.exact++;
        continue;
      }
      let task: Task;
      do task = randomSketchTask(kind);
      while (stateBytes(task) > BUILD_BUDGET_BYTES);
      build(kind, load(kind, task));
      built[kind]++;
    }
    assert.deepEqual(built, { heavyHitter: 20, superSpread: 20, exact: 20 });
  });
});
