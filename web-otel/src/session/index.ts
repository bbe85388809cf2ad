export { createSessionManager, newSessionId, DEFAULT_IDLE_TIMEOUT_MS, DEFAULT_MAX_DURATION_MS, DEFAULT_STORAGE_KEY } from './session.js';
export type { SessionManager } from './session.js';
export type { Session, SessionOptions, SessionStore } from './types.js';
