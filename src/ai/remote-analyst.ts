/**
 * The alerter's AlertAnalyst backed by a remote AI service (`alerter.ai_analysis.service_addr`):
 * one AnalyzeTraffic call with the alerts as JSON. The alerter's deadline arrives as `signal`; on
 * abort the connection is dropped at once, so detection never waits for a slow model.
 */
import type { Alert, AlertAnalysis, AlertAnalyst } from '../model/alert.js';
import { encodeAlertInput } from './alert-input.js';
import { AiServiceClient } from './ai-service-client.js';
import { withAuthToken } from './auth-token.js';

export interface RemoteAnalystOptions {
  /** `host:port` of the AI service. */
  serviceAddr: string;
  /** `ai.auth_token` when the service requires one; empty for none. */
  authToken: string;
  /** @default 5000 */
  connectTimeoutMs?: number;
  /** Upper bound of one analysis even without a signal. @default 120000 */
  callTimeoutMs?: number;
}

/** The heading the built-in analyst starts with: how an answer of the fallback is recognised. */
const BUILTIN_HEADING = '## Built-in analysis';

export class RemoteAnalyst implements AlertAnalyst {
  readonly #options: RemoteAnalystOptions;

  constructor(options: RemoteAnalystOptions) {
    this.#options = options;
  }

  async analyze(alerts: readonly Alert[], signal: AbortSignal): Promise<AlertAnalysis> {
    const client = await AiServiceClient.connect(this.#options.serviceAddr, {
      signal,
      ...(this.#options.connectTimeoutMs === undefined ? {} : { connectTimeoutMs: this.#options.connectTimeoutMs }),
      ...(this.#options.callTimeoutMs === undefined ? {} : { callTimeoutMs: this.#options.callTimeoutMs }),
    });
    try {
      const markdown = await client.analyzeTraffic(withAuthToken(encodeAlertInput(alerts), this.#options.authToken), signal);
      // The service answers with the built-in analysis when it has no LLM or the LLM failed.
      return { markdown, source: markdown.startsWith(BUILTIN_HEADING) ? 'built-in' : 'llm' };
    } finally {
      client.close();
    }
  }
}
