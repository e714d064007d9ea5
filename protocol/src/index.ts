export * from './errors.js';
export * from './validate.js';
export { MAX_FRAME_BYTES, encodeFrame, FrameDecoder } from './framing.js';
export * from './messages.js';
export { parseGuestMessage, parseHostMessage } from './parse.js';
export { FramedConnection } from './connection.js';
export type { LastApply } from './status.js';
export * from './auth.js';
export * from './ipv6.js';
