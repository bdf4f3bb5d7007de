#!/usr/bin/env node
/** `ns-api`: the original's command name, an alias of `netspectra api`. */
import { runApi } from './api.js';
import { processIo } from './io.js';

process.exitCode = await runApi(process.argv.slice(2), processIo());
