export { createTransport, originalFetch, DEFAULT_MAX_REQUEST_BYTES } from './transport.js';
export type { Transport } from './transport.js';
export { encodeSpan, encodeAttributes, toOutgoing } from './encode.js';
export type { BeforeSend, OutgoingSpan, TransportOptions } from './types.js';
