// Runs inside the follow-up worker thread (see followup-thread.ts): its own connection to the state
// database, the same FollowupService the hub would run in-process, and messages to the main thread.
import { parentPort, workerData } from 'node:worker_threads';
import { createLogger } from '@vigil/shared';
import { openFollowupStore } from '../storage/open-state.js';
import { FollowupService } from './followup-service.js';
import type { FollowupWorkerData, FromFollowupWorker, ToFollowupWorker } from './followup-worker-protocol.js';

const port = parentPort;
if (!port) throw new Error('followup-worker-main must run in a worker thread');
const data = workerData as FollowupWorkerData;
const post = (message: FromFollowupWorker) => port.postMessage(message);

// Its own connection, opened from the location the hub handed over (engine and where): the hub's
// connection runs migrations and checkpoints; this one only reads results and writes patients and alerts.
const connection = openFollowupStore(data.state);
const service = new FollowupService({
  store: connection.store,
  logger: createLogger('vigil-hub', { level: data.logLevel }).child({ thread: 'followup' }),
  events: { emit: (event) => post({ type: 'event', event }) },
  policy: data.policy,
  sweepIntervalMs: data.sweepIntervalMs,
  sweepsEnabled: data.sweeps,
});

// The main thread keeps each note until told it is done, and replays what is left to a new worker
// if this one dies: a crash delays a recomputation, it never loses one.
let lastNote = 0;
let reported = 0;
function reportWhenCaughtUp(): void {
  void service.settled().then(() => {
    if (lastNote <= reported) return;
    reported = lastNote;
    post({ type: 'caught-up', upTo: reported });
  });
}

port.on('message', (message: ToFollowupWorker) => {
  switch (message.type) {
    case 'note':
      lastNote = Math.max(lastNote, message.id);
      service.notePatients(message.patientKeys);
      reportWhenCaughtUp();
      return;
    case 'sweeps':
      service.sweepsEnabled = message.enabled;
      // A replica taking over the sweeps first catches up on what a dead one owed.
      if (message.enabled) void service.catchUp();
      return;
    case 'settle':
      void service.settled().then(() => post({ type: 'settled', id: message.id }));
      return;
    case 'stop':
      void service
        .stop()
        .then(() => connection.close())
        .then(() => {
          post({ type: 'stopped' });
          port.close();
        });
      return;
  }
});
service.start();
