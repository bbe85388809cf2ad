// One progress line on a terminal (stderr), redrawn at most every 200 ms; nothing when stderr
// is not a terminal (cron, CI, pipes), where the command's summary on stdout is the record.
export interface Progress {
  update(text: string): void;
  /** Replace the line with a final one that stays. */
  done(text: string): void;
  /** Remove the line (before an error message). */
  clear(): void;
}

export interface ProgressStream {
  isTTY?: boolean;
  write(text: string): boolean;
}

export function createProgress(stream: ProgressStream, now: () => number = Date.now): Progress {
  if (!stream.isTTY) return { update() {}, done() {}, clear() {} };
  let last = 0;
  let shown = false;
  return {
    update(text) {
      const t = now();
      if (shown && t - last < 200) return;
      last = t;
      shown = true;
      stream.write(`\r\x1b[K${text}`);
    },
    done(text) {
      stream.write(`\r\x1b[K${text}\n`);
      shown = false;
    },
    clear() {
      if (shown) stream.write('\r\x1b[K');
      shown = false;
    },
  };
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

export const formatCount = (n: number): string => n.toLocaleString('en-US');
