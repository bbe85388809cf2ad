// @vitest-environment happy-dom
import { describe, expect, it } from 'vitest';
import { createSessionManager, DEFAULT_IDLE_TIMEOUT_MS, DEFAULT_MAX_DURATION_MS } from './session.js';
import type { SessionStore, TabMarker } from './types.js';

function memoryStore(): SessionStore & { data: Map<string, string> } {
  const data = new Map<string, string>();
  return { data, getItem: (k) => data.get(k) ?? null, setItem: (k, v) => void data.set(k, v) };
}

/** A tab: its window.name, whether another tab opened it, and a copy of its sessionStorage for a tab it opens. */
function tab(opened = false, name = ''): TabMarker & { name: string } {
  const t = {
    name,
    get: () => (t.name.startsWith('cc-otel-tab:') ? t.name.slice('cc-otel-tab:'.length) : undefined),
    set: (id: string) => void (t.name === '' && (t.name = `cc-otel-tab:${id}`)),
    opened: () => opened,
  };
  return t;
}

function copy(store: ReturnType<typeof memoryStore>): ReturnType<typeof memoryStore> {
  const c = memoryStore();
  for (const [k, v] of store.data) c.data.set(k, v);
  return c;
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

  it('a tab opened with window.open starts its own session, though it got a copy of the sessionStorage', () => {
    let now = 1_000;
    const openerStore = memoryStore();
    const openerTab = tab();
    const opener = createSessionManager({}, openerStore, () => now, Math.random, openerTab);
    const a = opener.touch().id;
    expect(openerTab.name).toMatch(/^cc-otel-tab:[0-9a-f]{16}$/);
    // window.open: sessionStorage copied, window.name not, window.opener set
    now += 1_000;
    const openedStore = copy(openerStore);
    const openedTab = tab(true);
    const b = createSessionManager({}, openedStore, () => now, Math.random, openedTab).touch().id;
    expect(b).not.toBe(a);
    expect(openedTab.name).not.toBe(openerTab.name);
    // each tab keeps its own session across its next pages
    now += 1_000;
    expect(createSessionManager({}, openedStore, () => now, Math.random, openedTab).touch().id).toBe(b);
    expect(createSessionManager({}, openerStore, () => now, Math.random, openerTab).touch().id).toBe(a);
  });

  it('keeps the session when the tab lost its marker on a round trip (no opener), or when the app owns window.name', () => {
    let now = 1_000;
    const store = memoryStore();
    const t = tab();
    const a = createSessionManager({}, store, () => now, Math.random, t).touch().id;
    t.name = ''; // a browser that clears window.name across sites, back from the payment page
    now += 1_000;
    const back = createSessionManager({}, store, () => now, Math.random, t);
    expect(back.touch().id).toBe(a);
    now += 10_000;
    back.touch(); // adopted under the new marker, written back
    expect(JSON.parse(store.data.get('cc_otel_session') ?? '{}').tab).toBe(t.get());

    const appStore = memoryStore();
    const appTab = tab(false, 'checkout-window');
    const c = createSessionManager({}, appStore, () => now, Math.random, appTab).touch().id;
    expect(appTab.name).toBe('checkout-window'); // left alone
    expect(createSessionManager({}, appStore, () => now, Math.random, appTab).touch().id).toBe(c);
    // opened by another tab into a named window: the opener's session is still not continued
    const named = tab(true, 'checkout-window');
    expect(createSessionManager({}, copy(store), () => now, Math.random, named).touch().id).not.toBe(a);
  });
});
