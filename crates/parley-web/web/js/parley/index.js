// Parley's JavaScript client: REST + gateway, no DOM.
export { ParleyClient, ParleyError } from './api.js';
export { Gateway, CloseCode } from './gateway.js';
export { Emitter } from './emitter.js';
