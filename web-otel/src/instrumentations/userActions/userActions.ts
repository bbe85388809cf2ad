// User actions: clicks on elements carrying a data-action attribute, and explicit calls.
import type { Tracer } from '@opentelemetry/api';
import { routeAttributes } from '../../urls.js';
import type { InstrumentationContext, WebInstrumentation } from '../types.js';
import type { ActionMetadata, UserActionsOptions } from './types.js';

const MAX_NAME = 64;
const MAX_METADATA = 16;
const MAX_VALUE = 256;

/** A user action span: `user.action` names it, `user.action.<key>` attributes are its metadata. */
export function recordUserAction(tracer: Tracer, action: string, metadata: ActionMetadata | undefined, page: string): void {
  const name = action.trim().slice(0, MAX_NAME);
  if (!name) return;
  const attributes: Record<string, string | number | boolean> = { 'user.action': name, ...routeAttributes(page) };
  let n = 0;
  for (const [key, value] of Object.entries(metadata ?? {})) {
    if (n++ >= MAX_METADATA) break;
    if (typeof value === 'string') attributes[`user.action.${key}`] = value.slice(0, MAX_VALUE);
    else if (typeof value === 'boolean' || (typeof value === 'number' && Number.isFinite(value))) attributes[`user.action.${key}`] = value;
  }
  tracer.startSpan('user_action', { attributes }).end();
}

/** The action named by the clicked element or its closest ancestor with the attribute. */
export function actionOf(target: EventTarget | null, attribute: string): { action: string; metadata: ActionMetadata } | undefined {
  const el = target instanceof Element ? target.closest(`[${attribute}]`) : null;
  const action = el?.getAttribute(attribute);
  if (!el || !action) return undefined;
  const metadata: ActionMetadata = {};
  const prefix = `${attribute}-`;
  for (const { name, value } of Array.from(el.attributes)) {
    if (name.startsWith(prefix)) metadata[name.slice(prefix.length)] = value;
  }
  return { action, metadata };
}

export class UserActionsInstrumentation implements WebInstrumentation {
  readonly name = 'user-actions';
  private stop: (() => void) | undefined;

  constructor(private readonly options: UserActionsOptions = {}) {}

  enable(ctx: InstrumentationContext): void {
    const attribute = this.options.attribute ?? 'data-action';
    const onClick = (e: Event): void => {
      try {
        const found = actionOf(e.target, attribute);
        if (found) recordUserAction(ctx.tracer, found.action, found.metadata, ctx.page());
      } catch (err) {
        ctx.debug('user action', err);
      }
    };
    // Capture: an app handler that stops propagation does not hide the action.
    document.addEventListener('click', onClick, true);
    this.stop = () => document.removeEventListener('click', onClick, true);
  }

  disable(): void {
    this.stop?.();
    this.stop = undefined;
  }
}
