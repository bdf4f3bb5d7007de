#!/usr/bin/env node
/** `ns-ai`: the original's command name, an alias of `netspectra ai`. */
import { runAi } from './ai.js';
import { processIo } from './io.js';

process.exitCode = await runAi(process.argv.slice(2), processIo());
