// Structured JSON logs on stdout (pino). Anything that could carry a secret is redacted.
import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'cc-exporter' },
      redact: { paths: ['password', '*.password', 'databaseUrl', '*.databaseUrl', 'token', '*.token', 'req.headers.authorization'], censor: '***' },
    },
    destination,
  );
}
