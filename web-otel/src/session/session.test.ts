// @vitest-environment happy-dom
import { describe, expect, it } from 'vitest';
import { createSessionManager, DEFAULT_IDLE_TIMEOUT_MS, DEFAULT_MAX_DURATION_MS } from './session.js';
import type { SessionStore } from './types.js';

function memoryStore(): SessionStore & { data: Map<string, string> } {
  const data = new Map<string, string>();
  return { data, getItem: (k) => data.get(k) ?? null, setItem: (k, v) => void data.set(k, v) };
}

describe('session', () => {
  it('keeps one id across page loads of the tab (sessionStorage), touched by activity', () => {
    const store = memoryStore();
    let now = 1_000_000;
    const first = createSessionManager({}, store, () => now).touch();
    expect(first.id).toMatch(/^[0-9a-f]{32}$/);
    now += 60_000;
    const again = createSessionManager({}, store, () => now).touch(); // the next page of the same tab
    expect(again.id).toBe(first.id);
  });

  it('renews after 30 minutes idle, and after 4 hours whatever happens', () => {
    const store = memoryStore();
    let now = 0 + 1;
    const sessions = createSessionManager({}, store, () => now);
    const a = sessions.touch().id;
    now += DEFAULT_IDLE_TIMEOUT_MS - 1;
    expect(sessions.touch().id).toBe(a);
    now += DEFAULT_IDLE_TIMEOUT_MS + 1;
    const b = sessions.touch().id;
    expect(b).not.toBe(a);
    // active all the time, yet renewed at the maximum age
    const started = now;
    while (now - started <= DEFAULT_MAX_DURATION_MS) {
      expect(sessions.touch().id).toBe(b);
      now += 10 * 60_000;
    }
    expect(sessions.touch().id).not.toBe(b);
    expect(JSON.parse(store.data.get('cc_otel_session') ?? '{}').id).toBe(sessions.touch().id);
  });

  it('decides sampling once per session', () => {
    const store = memoryStore();
    let now = 1;
    const rolls = [0.9, 0.1];
    const sessions = createSessionManager({ sampleRate: 0.5 }, store, () => now, () => rolls.shift() ?? 0);
    expect(sessions.touch().sampled).toBe(false);
    now += 1000;
    expect(sessions.touch().sampled).toBe(false); // same session, same decision, no new roll
    expect(rolls).toEqual([0.1]);
    now += DEFAULT_IDLE_TIMEOUT_MS + 1;
    expect(sessions.touch().sampled).toBe(true);
  });

  it('lives in memory when storage throws or holds garbage', () => {
    const broken: SessionStore = {
      getItem: () => {
        throw new Error('denied');
      },
      setItem: () => {
        throw new Error('denied');
      },
    };
    const s = createSessionManager({}, broken, () => 5);
    expect(s.touch().id).toBe(s.touch().id);
    const garbage = memoryStore();
    garbage.data.set('cc_otel_session', '{"id":"<script>"}');
    expect(createSessionManager({}, garbage, () => 5).touch().id).toMatch(/^[0-9a-f]{32}$/);
  });
});
