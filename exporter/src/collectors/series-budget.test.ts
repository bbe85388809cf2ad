import { describe, expect, it } from 'vitest';
import { SeriesBudget, type IsKnown } from './series-budget.js';

const HOUR = 3_600_000;
const declared: IsKnown = (label, value) => (label === 'page' ? value === '/menu/:category' : label === 'rating');
const budget = (n: number, data?: unknown) => new SeriesBudget({ budgets: new Map([['pages', n]]), idleMs: HOUR }, data);
const page = (p: string, rating = 'good') => ({ page: p, rating });

describe('SeriesBudget', () => {
  it('admits series up to the budget, then folds unknown values into other, keeping the known labels', () => {
    const b = budget(2);
    expect(b.admit('pages', page('/a'), declared, 0)).toEqual({ labels: page('/a'), evicted: [], overflowed: false });
    expect(b.admit('pages', page('/b'), declared, 0).overflowed).toBe(false);
    expect(b.admit('pages', page('/c', 'poor'), declared, 0)).toEqual({ labels: page('other', 'poor'), evicted: [], overflowed: true });
    expect(b.admit('pages', page('/a'), declared, 0).overflowed).toBe(false); // admitted stays admitted
    expect(b.size('pages')).toBe(2); // the folded series take no place
  });

  it('always admits a known series, in the place of the least recently counted unknown one', () => {
    const b = budget(2);
    b.admit('pages', page('/a'), declared, 0);
    b.admit('pages', page('/b'), declared, 1);
    b.admit('pages', page('/a'), declared, 2); // /b is now the least recently counted
    expect(b.admit('pages', page('/menu/:category'), declared, 3)).toEqual({ labels: page('/menu/:category'), evicted: [page('/b')], overflowed: false });
    // a known series is never pushed out by an unknown one, idle or not
    expect(b.admit('pages', page('/c'), declared, 10 * HOUR)).toEqual({ labels: page('/c'), evicted: [page('/a')], overflowed: false });
    expect(b.admit('pages', page('/d'), declared, 10 * HOUR).labels).toEqual(page('other'));
    expect(b.admit('pages', page('/menu/:category'), declared, 10 * HOUR).evicted).toEqual([]);
  });

  it('gives the place of an unknown series idle for idleMs (row time) to a new one, and no sooner', () => {
    const b = budget(1);
    b.admit('pages', page('/flood'), declared, 0);
    expect(b.admit('pages', page('/real'), declared, HOUR - 1).labels).toEqual(page('other'));
    expect(b.admit('pages', page('/real'), declared, HOUR)).toEqual({ labels: page('/real'), evicted: [page('/flood')], overflowed: false });
  });

  it('keeps time by the rows, never going back: a late row does not make fresh series look idle or idle ones fresh', () => {
    const b = budget(1);
    b.admit('pages', page('/a'), declared, 2 * HOUR);
    expect(b.admit('pages', page('/b'), declared, 5 * HOUR).evicted).toEqual([page('/a')]);
    // an old row (a slow browser's) is counted at the clock, not in the past
    b.admit('pages', page('/b'), declared, 0);
    expect(b.admit('pages', page('/c'), declared, 5 * HOUR + HOUR - 1).labels).toEqual(page('other'));
  });

  it('leaves families without a budget alone', () => {
    const b = budget(1);
    for (let i = 0; i < 10; i++) expect(b.admit('other_family', { x: String(i) }, declared, 0).labels).toEqual({ x: String(i) });
  });

  it('restores from its committed form exactly, and ignores what it cannot read', () => {
    const b = budget(2);
    b.admit('pages', page('/a'), declared, 5);
    b.admit('pages', page('/b'), declared, 7);
    const restored = budget(2, JSON.parse(JSON.stringify(b.toJSON())));
    expect(restored.toJSON()).toEqual(b.toJSON());
    expect(restored.admit('pages', page('/c'), declared, 7).overflowed).toBe(true);
    expect(budget(2, { clock: 'x', families: { pages: [['not json', 1], ['{"page":1}', 2], ['{"page":"/ok"}', 3]], unknown: [] } }).toJSON()).toEqual({ clock: 0, families: { pages: [['{"page":"/ok"}', 3]] } });
    expect(budget(2, 'garbage').toJSON()).toEqual({ clock: 0, families: {} });
  });

  it('adopts series counted before budgets as long idle, so real ones can take their places', () => {
    const b = budget(2);
    b.adopt('pages', [page('/old1'), page('/old2'), page('/old3')]);
    expect(b.size('pages')).toBe(3);
    expect(b.admit('pages', page('/new'), declared, HOUR).evicted).toEqual([page('/old1'), page('/old2')]);
    expect(b.size('pages')).toBe(2);
  });
});
