#!/usr/bin/env node
/** `ns-probe`: the original's command name, an alias of `netspectra probe`. */
import { processIo } from './io.js';
import { runProbe } from './probe.js';

process.exitCode = await runProbe(process.argv.slice(2), processIo());
