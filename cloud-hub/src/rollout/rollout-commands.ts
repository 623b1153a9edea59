// Operator commands between hub replicas: a replica without the rollout lease records the command
// in the database and waits for the outcome; the lease holder carries commands out, oldest first,
// each taken once. One place decides every rollout, whichever replica the operator reached.
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { asVigilError, ERROR_CATALOGUE, type ErrorCode, type Logger, VigilError } from '@vigil/shared';
import type { RolloutAction, RolloutCommandOutcome, RolloutStore } from './rollout-store.js';

/** On a replica without the lease: records the command and waits for the holder's outcome. */
export async function viaLeaseHolder(
  store: RolloutStore,
  action: RolloutAction,
  input: unknown,
  timeoutMs: number,
): Promise<unknown> {
  const commandId = randomUUID();
  const actor = (input as { actor?: string }).actor ?? 'unknown';
  await store.requestCommand({ commandId, action, input, requestedBy: actor, requestedAt: new Date().toISOString() });
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const command = await store.getCommand(commandId);
    if (command?.outcome) return unwrap(command.outcome);
    if (Date.now() >= deadline) {
      const busy: RolloutCommandOutcome = {
        ok: false,
        code: 'VIGIL_ROLLOUT_BUSY',
        message: `no replica holding the rollout lease took the ${action} within ${timeoutMs} ms; it was withdrawn, retry`,
      };
      if (await store.withdrawCommand(commandId, busy)) return unwrap(busy);
      // Taken: it is running on the holder. Wait once more as long for its outcome, then say so.
      if (Date.now() >= deadline + timeoutMs) {
        throw new VigilError(
          'VIGIL_ROLLOUT_BUSY',
          `the ${action} was taken by ${command?.claimedBy ?? 'another replica'} but its outcome is unknown (command ${commandId})`,
        );
      }
    }
    await sleep(50);
  }
}

/**
 * On the lease holder: carries out other replicas' commands, oldest first. `fenced` is the store
 * whose writes carry the lease's fence (the claim), `store` the plain one (reading and finishing).
 */
export async function carryOutCommands(o: {
  store: RolloutStore;
  fenced: RolloutStore;
  replicaId: string;
  perform: (action: RolloutAction, input: unknown) => Promise<unknown>;
  logger: Logger;
}): Promise<void> {
  for (const command of await o.store.pendingCommands(20)) {
    if (!(await o.fenced.claimCommand(command.commandId, o.replicaId))) continue;
    let outcome: RolloutCommandOutcome;
    try {
      outcome = { ok: true, value: await o.perform(command.action, command.input) };
    } catch (error) {
      const vigil = asVigilError(error, 'VIGIL_INTERNAL');
      outcome = { ok: false, code: vigil.code, message: vigil.message };
    }
    await o.store.finishCommand(command.commandId, outcome);
    o.logger.info(
      { commandId: command.commandId, action: command.action, by: command.requestedBy, ok: outcome.ok },
      'rollout command carried out for another replica',
    );
    if (!outcome.ok && outcome.code === 'VIGIL_LEASE_LOST') return;
  }
}

function unwrap(outcome: RolloutCommandOutcome): unknown {
  if (outcome.ok) return outcome.value;
  const code = (outcome.code in ERROR_CATALOGUE ? outcome.code : 'VIGIL_INTERNAL') as ErrorCode;
  throw new VigilError(code, outcome.message);
}
