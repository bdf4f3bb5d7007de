/** The engine's tasks from the config: the task groups in `aggregator.types`, each task with its hash seed. */
import { randomBytes } from 'node:crypto';
import type { NetSpectraConfig } from '../config/schema.js';
import type { EngineTasks } from '../engine/task-plan.js';

/** Seed for hash functions: the config's, or a random one per run (keeps crafted-collision attacks off). */
function seedOf(configured: number | undefined): number {
  return configured ?? randomBytes(4).readUInt32LE(0);
}

export function engineTasksOf(config: NetSpectraConfig): EngineTasks {
  const types = config.aggregator.types;
  return {
    exact: types.includes('exact') ? config.aggregator.exact.tasks.map((t) => ({ name: t.name, keyFields: [...t.keyFields], seed: seedOf(undefined) })) : [],
    sketch: types.includes('sketch')
      ? config.aggregator.sketch.tasks.map((t) => ({ ...t, flowFields: [...t.flowFields], elementFields: [...t.elementFields], seed: seedOf(t.seed) }))
      : [],
  };
}
