export { createTransport, originalFetch, priorityOf, DEFAULT_MAX_REQUEST_BYTES, KEEPALIVE_BUDGET_BYTES } from './transport.js';
export type { Transport } from './transport.js';
export { encodeSpan, encodeAttributes, scrubOutgoing, toOutgoing } from './encode.js';
export type { BeforeSend, OutgoingSpan, TransportOptions } from './types.js';
