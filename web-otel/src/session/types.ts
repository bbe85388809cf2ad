export interface SessionOptions {
  /** a session ends after this long without a span (default 30 min) */
  idleTimeoutMs?: number;
  /** a session ends after this long whatever happens (default 4 h) */
  maxDurationMs?: number;
  /** share of sessions whose spans are sent, 0..1, decided once per session (default 1) */
  sampleRate?: number;
  /** sessionStorage key (default `cc_otel_session`) */
  storageKey?: string;
}

export interface Session {
  id: string;
  /** epoch ms */
  startedAt: number;
  lastActivityAt: number;
  /** whether this session's spans are sent */
  sampled: boolean;
  /** the tab that owns it (the marker in its window.name) */
  tab?: string;
}

/** Where the tab keeps its marker (window.name in the browser). */
export interface TabMarker {
  /** this tab's id, or undefined when it has none yet */
  get(): string | undefined;
  /** gives the tab its id (may decline: a window.name the app uses) */
  set(id: string): void;
  /** whether another tab opened this one (window.opener) */
  opened(): boolean;
}

/** The little of Storage the session needs; sessionStorage in the browser. */
export interface SessionStore {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
}
