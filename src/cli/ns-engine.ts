#!/usr/bin/env node
/** `ns-engine`: the original's command name, an alias of `netspectra engine`. */
import { runEngine } from './engine.js';
import { processIo } from './io.js';

process.exitCode = await runEngine(process.argv.slice(2), processIo());
