export { UserActionsInstrumentation, recordUserAction, actionOf } from './userActions.js';
export type { ActionMetadata, UserActionsOptions } from './types.js';
