import { describe, expect, it } from 'vitest';
import { createProgress, formatBytes } from './progress.js';

describe('progress line', () => {
  it('redraws one line on a terminal at most every 200 ms, and prints nothing elsewhere', () => {
    let t = 0;
    const written: string[] = [];
    const tty = createProgress({ isTTY: true, write: (s) => written.push(s) > 0 }, () => t);
    tty.update('a');
    t = 100;
    tty.update('b');
    t = 250;
    tty.update('c');
    tty.done('d');
    expect(written).toEqual(['\r\x1b[Ka', '\r\x1b[Kc', '\r\x1b[Kd\n']);

    const piped: string[] = [];
    const quiet = createProgress({ isTTY: false, write: (s) => piped.push(s) > 0 });
    quiet.update('a');
    quiet.done('b');
    expect(piped).toEqual([]);
  });

  it('formats sizes in binary units', () => {
    expect(formatBytes(512)).toBe('512 B');
    expect(formatBytes(1536)).toBe('1.5 KiB');
    expect(formatBytes(250 * 2 ** 20)).toBe('250 MiB');
  });
});
