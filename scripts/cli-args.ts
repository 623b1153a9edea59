import { type ParseArgsConfig, parseArgs } from 'node:util';

/**
 * The scripts' one argument layer over node's parseArgs (the apps use commander): `--help` or `-h`
 * prints the usage and exits 0 before anything runs; an unknown option or a bad value is a one-line
 * coded error (`{"ok":false,"error":{"code":"VIGIL_CONFIG_INVALID",…}}`, exit 2), never a stack trace.
 */
export function parseCli<T extends ParseArgsConfig>(usage: string, config: T): ReturnType<typeof parseArgs<T>> {
  const argv = config.args ?? process.argv.slice(2);
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(usage.endsWith('\n') ? usage : `${usage}\n`);
    process.exit(0);
  }
  try {
    // strict (the default) refuses unknown options; the cast only restates that the config is the caller's.
    return parseArgs({ ...config, args: argv, strict: true }) as ReturnType<typeof parseArgs<T>>;
  } catch (error) {
    cliError(`${(error as Error).message.split('\n')[0]} (--help lists the options)`);
  }
}

/** Ends a script with a one-line coded error (exit 2). */
export function cliError(message: string, code = 'VIGIL_CONFIG_INVALID'): never {
  process.stderr.write(`${JSON.stringify({ ok: false, error: { code, message } })}\n`);
  process.exit(2);
}
