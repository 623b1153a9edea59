import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { actor, withState } from './cli-user-commands.js';
import { parseOutcomesCsv } from './verdicts/outcome-csv.js';
import { VerdictService } from './verdicts/verdict-service.js';

/** `vigil-hub outcomes import FILE`: outcomes and assessments from another system, all lines or none. */
export function addVerdictCommands(
  program: Command,
  configOption: readonly [string, string, string | undefined],
  fail: (e: unknown) => never,
): void {
  const outcomes = program.command('outcomes').description("clinicians' outcomes and assessments from other systems");
  outcomes
    .command('import <file>')
    .description(
      'import a CSV (patient_key,study_key,outcome,laterality,outcome_date,birads); every line is checked, a bad line imports nothing',
    )
    .option(...configOption)
    .action(async (file: string, options: { config?: string }) => {
      try {
        const parsed = await parseOutcomesCsv(readFileSync(file, 'utf8'));
        const stored = await withState(options.config, async (state) => {
          const by = actor();
          const verdicts = await new VerdictService(state, state.audit).importLines(parsed, {
            username: by,
            role: 'admin',
            ip: 'local',
            source: 'import',
            clinics: null,
          });
          await state.audit.append({
            actor: by,
            actorRole: 'admin',
            action: 'outcomes.import',
            targetType: 'verdict',
            targetId: '*',
            outcome: 'success',
            details: { file, lines: parsed.lines.length, verdicts: verdicts.length },
            ip: 'local',
          });
          return verdicts;
        });
        process.stdout.write(`${JSON.stringify({ imported: stored.length, lines: parsed.lines.length })}\n`);
      } catch (error) {
        fail(error);
      }
    });
}
