// The session: an id on every span, kept in sessionStorage so it survives navigations and
// reloads of the tab, renewed after a long idle time or a maximum age, sampled once. A tab opened
// with window.open starts with a copy of its opener's sessionStorage (Chromium): the tab marker
// tells the copy from the tab's own session, and the copy is not continued.
import type { Session, SessionOptions, SessionStore, TabMarker } from './types.js';

export const DEFAULT_IDLE_TIMEOUT_MS = 30 * 60_000;
export const DEFAULT_MAX_DURATION_MS = 4 * 60 * 60_000;
export const DEFAULT_STORAGE_KEY = 'cc_otel_session';
/** activity is written back at most this often (a span start must stay cheap) */
const WRITE_INTERVAL_MS = 5_000;

export interface SessionManager {
  /** the current session, renewed first if it has expired; counts as activity */
  touch(): Session;
}

export function createSessionManager(
  options: SessionOptions = {},
  store: SessionStore | undefined = defaultStore(),
  now: () => number = Date.now,
  random: () => number = Math.random,
  tab: TabMarker | undefined = windowTab(),
): SessionManager {
  const idle = options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS;
  const max = options.maxDurationMs ?? DEFAULT_MAX_DURATION_MS;
  const rate = Math.min(1, Math.max(0, options.sampleRate ?? 1));
  const key = options.storageKey ?? DEFAULT_STORAGE_KEY;
  let current: Session | undefined = read(store, key);
  // This tab's id: the one in window.name when there is one, else a new one.
  const ownTab = tab?.get();
  const tabId = ownTab ?? newSessionId().slice(0, 16);
  // A stored session of another tab (its marker differs from ours), found by a tab its opener made:
  // the opener's, copied with sessionStorage. A stored session without a marker is an older
  // library's, and kept.
  if (current?.tab !== undefined && current.tab !== tabId && (ownTab !== undefined || tab?.opened())) current = undefined;
  if (tab && ownTab === undefined) tab.set(tabId);
  let written = current?.lastActivityAt ?? 0;
  if (current && current.tab !== tabId && tab?.get() === tabId) {
    current.tab = tabId; // adopted by this tab (a marker lost in a cross-site round trip, an older library's session)
    written = 0;
  }

  const save = (session: Session): void => {
    written = session.lastActivityAt;
    try {
      store?.setItem(key, JSON.stringify(session));
    } catch {
      // storage full or forbidden: the session lives in memory for this page
    }
  };

  return {
    touch() {
      const t = now();
      if (!current || t - current.lastActivityAt > idle || t - current.startedAt > max || t < current.startedAt) {
        current = { id: newSessionId(), startedAt: t, lastActivityAt: t, sampled: random() < rate, ...(tab?.get() === tabId ? { tab: tabId } : {}) };
        save(current);
        return current;
      }
      current.lastActivityAt = t;
      if (t - written >= WRITE_INTERVAL_MS) save(current);
      return current;
    },
  };
}

function read(store: SessionStore | undefined, key: string): Session | undefined {
  try {
    const raw = store?.getItem(key);
    if (!raw) return undefined;
    const s = JSON.parse(raw) as Partial<Session>;
    if (typeof s.id === 'string' && /^[0-9a-f]{32}$/.test(s.id) && typeof s.startedAt === 'number' && typeof s.lastActivityAt === 'number' && typeof s.sampled === 'boolean') {
      const session: Session = { id: s.id, startedAt: s.startedAt, lastActivityAt: s.lastActivityAt, sampled: s.sampled };
      if (typeof s.tab === 'string' && /^[0-9a-f]{16}$/.test(s.tab)) session.tab = s.tab;
      return session;
    }
  } catch {
    // unreadable: start a new session
  }
  return undefined;
}

const TAB_PREFIX = 'cc-otel-tab:';

/**
 * The tab marker in window.name, which stays with the tab across its navigations and is not copied
 * to a tab it opens. A window.name the app uses for itself is left alone (no marker: no detection).
 */
function windowTab(): TabMarker | undefined {
  if (typeof window === 'undefined') return undefined;
  return {
    get: () => (window.name.startsWith(TAB_PREFIX) ? window.name.slice(TAB_PREFIX.length) : undefined),
    set(id) {
      if (window.name === '') window.name = TAB_PREFIX + id;
    },
    opened: () => {
      try {
        return window.opener != null;
      } catch {
        return true; // an opener of another origin that throws is still an opener
      }
    },
  };
}

function defaultStore(): SessionStore | undefined {
  try {
    return typeof sessionStorage === 'undefined' ? undefined : sessionStorage;
  } catch {
    return undefined; // sessionStorage access can throw (sandboxed frames, disabled storage)
  }
}

/** 32 random hex characters. */
export function newSessionId(): string {
  const bytes = new Uint8Array(16);
  if (typeof crypto !== 'undefined' && crypto.getRandomValues) crypto.getRandomValues(bytes);
  else for (let i = 0; i < 16; i++) bytes[i] = Math.floor(Math.random() * 256);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}
