import { VigilError } from '@vigil/shared';
import Database from 'better-sqlite3';
import type { Command } from 'commander';
import { loadHubConfig } from './config.js';
import { openConfiguredState, stateLocation } from './storage/configured-stores.js';
import { copySqliteToPostgres } from './storage/state-transfer.js';

const err = (line: string) => process.stderr.write(`${line}\n`);

/** The coded line for an audit chain that does not verify (exit status 3: the state opened, its log did not hold). */
function auditBroken(where: string): string {
  const error = new VigilError('VIGIL_AUDIT_CHAIN_BROKEN', `the audit log's hash chain does not verify (${where})`);
  return `${error.code}: ${error.message}`;
}

/** `vigil-hub state migrate|backup|verify`: moving, saving and checking the hub's state. */
export function addStateCommands(
  program: Command,
  configOption: readonly [string, string, string | undefined],
  fail: (e: unknown) => never,
): void {
  const state = program.command('state').description("copy, back up and verify the hub's state database");
  state
    .command('migrate')
    .description('copy a SQLite state database into an empty PostgreSQL database (audit chain verified afterwards)')
    .requiredOption('--from <source>', 'sqlite:PATH of the state database (stop the hub first: later writes are not copied)')
    .requiredOption('--to <url>', 'postgres://user@host:5432/database (empty; the schema is created)')
    .option('--sslmode <mode>', 'disable | prefer | require | verify-ca | verify-full', '')
    .option('--ca-file <file>', "CA bundle for the server's certificate", '')
    .action(async (options: { from: string; to: string; sslmode: string; caFile: string }) => {
      try {
        if (!options.from.startsWith('sqlite:')) {
          throw new VigilError('VIGIL_CONFIG_INVALID', '--from must be sqlite:PATH');
        }
        let last = '';
        const report = await copySqliteToPostgres(
          options.from.slice('sqlite:'.length),
          {
            driver: 'postgres',
            url: options.to,
            sslmode: options.sslmode,
            caFile: options.caFile,
            poolSize: 2,
            connectTimeoutMs: 10_000,
            statementTimeoutMs: 600_000,
          },
          (table, copied, total) => {
            const line = `${table}: ${copied}/${total}`;
            if (copied === total && line !== last) err(`copied ${line}`);
            last = line;
          },
        );
        process.stdout.write(`${JSON.stringify(report)}\n`);
        if (!report.audit.ok || report.auditHead.source !== report.auditHead.copy) {
          err(`vigil-hub: ${auditBroken(`in the copy, first bad entry ${report.audit.firstBadSeq}`)}`);
          process.exitCode = 3;
        }
      } catch (error) {
        fail(error);
      }
    });
  state
    .command('backup')
    .description('online, consistent backup of a SQLite state database (PostgreSQL: use pg_dump, see the operations guide)')
    .option(...configOption)
    .requiredOption('--to <file>', 'the backup file to write')
    .action(async (options: { config?: string; to: string }) => {
      try {
        const location = stateLocation(loadHubConfig(options.config));
        if (location.driver !== 'sqlite') {
          throw new VigilError(
            'VIGIL_CONFIG_INVALID',
            'config key state.driver: postgres state is backed up with pg_dump (docs/operations.md)',
          );
        }
        // SQLite's online backup API: a consistent copy while the hub keeps writing.
        const db = new Database(location.path, { readonly: true, fileMustExist: true });
        try {
          await db.backup(options.to);
        } finally {
          db.close();
        }
        process.stdout.write(`${JSON.stringify({ backup: options.to })}\n`);
      } catch (error) {
        fail(error);
      }
    });
  state
    .command('verify')
    .description('open the configured state (running migrations), verify the audit chain and count results')
    .option(...configOption)
    .action(async (options: { config?: string }) => {
      try {
        const store = await openConfiguredState(loadHubConfig(options.config));
        try {
          const audit = await store.audit.verify();
          const results = await store.countResults();
          process.stdout.write(`${JSON.stringify({ driver: store.driver, results, audit })}\n`);
          if (!audit.ok) {
            process.stderr.write(`vigil-hub: ${auditBroken(`first bad entry ${audit.firstBadSeq}`)}\n`);
            process.exitCode = 3;
          }
        } finally {
          await store.close();
        }
      } catch (error) {
        fail(error);
      }
    });
}
