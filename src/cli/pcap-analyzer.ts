#!/usr/bin/env node
/** `pcap-analyzer`: the original's command name, an alias of `netspectra analyze`. */
import { runAnalyze } from './analyze.js';
import { processIo } from './io.js';

process.exitCode = await runAnalyze(process.argv.slice(2), processIo());
