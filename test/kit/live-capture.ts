/**
 * Live capture in tests: the reason to skip when tcpdump cannot capture here (not installed, or
 * not root), or a failure under CI, which must run the live-capture tests.
 */
import { findTcpdump } from '../../src/capture/live-capture.js';

export function liveCaptureSkip(): string | false {
  if (findTcpdump() === undefined) {
    if (process.env.CI) throw new Error('tcpdump is not installed, and CI must run the live-capture tests (apt-get install tcpdump)');
    return 'tcpdump is not installed (apt-get install tcpdump)';
  }
  return process.getuid?.() === 0 ? false : 'live capture needs root (or tcpdump with cap_net_raw)';
}
