// Time helpers shared by the transport and the instrumentations.
import type { HrTime } from '@opentelemetry/api';

/** An HrTime ([seconds, nanos]) as Unix nanoseconds in a decimal string, exact. */
export function hrTimeToNanos([seconds, nanos]: HrTime): string {
  if (seconds <= 0) return String(Math.max(0, nanos));
  return `${Math.trunc(seconds)}${String(Math.trunc(nanos)).padStart(9, '0')}`;
}
