// @vitest-environment happy-dom
import { afterEach, describe, expect, it } from 'vitest';
import { createTestTracer } from '../../testUtils/index.js';
import { recordUserAction, UserActionsInstrumentation } from './userActions.js';

describe('user actions', () => {
  let instrumentation: UserActionsInstrumentation | undefined;
  afterEach(() => {
    instrumentation?.disable();
    document.body.innerHTML = '';
  });

  it('records clicks inside [data-action] elements, with data-action-* metadata, even when the app stops propagation', () => {
    document.body.innerHTML = '<button data-action="add_to_cart" data-action-item="margherita"><span id="inner">Add</span></button><p id="plain">text</p>';
    document.querySelector('button')?.addEventListener('click', (e) => e.stopPropagation());
    const t = createTestTracer('/menu/:category');
    instrumentation = new UserActionsInstrumentation();
    instrumentation.enable(t.context);
    (document.getElementById('inner') as HTMLElement).click();
    (document.getElementById('plain') as HTMLElement).click();
    const spans = t.spans();
    expect(spans).toHaveLength(1);
    expect(spans[0]?.attributes).toMatchObject({ 'user.action': 'add_to_cart', 'user.action.item': 'margherita', 'url.template': '/menu/:category', page: '/menu/:category' });
  });

  it('records explicit calls with scalar metadata only, at most 16 entries', () => {
    const t = createTestTracer();
    const metadata: Record<string, string | number | boolean> = { itemId: 123, gift: true };
    for (let i = 0; i < 30; i++) metadata[`k${i}`] = 'v';
    recordUserAction(t.context.tracer, ' checkout ', { ...metadata, bad: Number.NaN }, '/');
    recordUserAction(t.context.tracer, '   ', {}, '/'); // no name: nothing
    const spans = t.spans();
    expect(spans).toHaveLength(1);
    expect(spans[0]?.attributes['user.action']).toBe('checkout');
    expect(spans[0]?.attributes['user.action.itemId']).toBe(123);
    expect(Object.keys(spans[0]?.attributes ?? {}).filter((k) => k.startsWith('user.action.'))).toHaveLength(16);
  });
});
