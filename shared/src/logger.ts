import { type DestinationStream, type Logger, type LoggerOptions, pino } from 'pino';

export type { Logger } from 'pino';

/**
 * Structured JSON logs. Secrets and anything that could be PHI are redacted by path as a second
 * line of defence; the first is never to pass such values to a log call.
 */
export const REDACT_PATHS = [
  'password',
  '*.password',
  'secret',
  '*.secret',
  'clinicSecret',
  '*.clinicSecret',
  'token',
  '*.token',
  'authorization',
  '*.authorization',
  'patientName',
  '*.patientName',
  'patientId',
  '*.patientId',
  'birthDate',
  '*.birthDate',
];

export function createLogger(name: string, options: LoggerOptions = {}, destination?: DestinationStream): Logger {
  const settings: LoggerOptions = {
    name,
    level: process.env.VIGIL_LOG_LEVEL ?? 'info',
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    base: { pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    ...options,
  };
  return destination ? pino(settings, destination) : pino(settings);
}

/**
 * Last resort for a long-running process: a promise rejection nobody handled is a bug, logged with
 * VIGIL_INTERNAL, but it must not take down intake, ingest and every other connection with it
 * (Node's default). Each known path handles its own errors; this only catches what was missed.
 */
export function keepRunningOnUnhandledRejection(logger: Logger): void {
  process.on('unhandledRejection', (reason) => {
    logger.error(
      { code: 'VIGIL_INTERNAL', err: reason instanceof Error ? reason.stack : String(reason) },
      'unhandled promise rejection (a bug; the process keeps running)',
    );
  });
}
