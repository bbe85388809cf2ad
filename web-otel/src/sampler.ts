// The sampling decision is the session's, made once when it starts: a session is traced whole or not at all.
import { SamplingDecision, type Sampler, type SamplingResult } from '@opentelemetry/sdk-trace-base';
import type { SessionManager } from './session/index.js';

export class SessionSampler implements Sampler {
  constructor(private readonly sessions: SessionManager) {}

  shouldSample(): SamplingResult {
    return { decision: this.sessions.touch().sampled ? SamplingDecision.RECORD_AND_SAMPLED : SamplingDecision.NOT_RECORD };
  }

  toString(): string {
    return 'SessionSampler';
  }
}
