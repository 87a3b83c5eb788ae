import { type DestinationStream, type LoggerOptions, type Logger as PinoLogger, pino } from 'pino';

export type Logger = PinoLogger;

/**
 * Structured logs. Callers pass counts, codes and ids, never a resource body or a raw identifier; the
 * redaction list is a second line of defence for fields that must never be logged.
 */
export function createLogger(options: { level?: string; destination?: DestinationStream } = {}): Logger {
  const opts: LoggerOptions = {
    level: options.level ?? process.env.HEALTHMESH_LOG_LEVEL ?? 'info',
    redact: { paths: ['resource', 'content', 'token', 'authorization', '*.authorization'], censor: '[redacted]' },
    base: { app: 'healthmesh' },
  };
  return options.destination ? pino(opts, options.destination) : pino(opts);
}

/** A logger that writes nothing, for tests and quiet CLI runs. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
