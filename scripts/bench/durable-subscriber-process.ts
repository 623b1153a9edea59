// The minimal durable baseline of the backbone benchmark (issue 13): a plain MQTT subscriber, in its
// own process like the hub, that consumes results through the same shared subscription with the same
// number of connections, commits whatever has arrived as one batch to the same PostgreSQL with the
// same durability (synchronous_commit on, idempotent on the message id) and acknowledges each
// message only after its batch committed, holding PUBACKs the way the hub does (`pipelineAcks`). No schema validation, no authorisation, no device state,
// history, follow-up or receipts: what is left of the hub's ingest when its own logic is taken away.
// argv: brokerUrl username password postgresUrl consumers
import { sharedFleetFilter } from '@vigil/shared';
import mqtt from 'mqtt';
import pg from 'pg';
import { pipelineAcks } from '../../cloud-hub/src/broker/external-consumer.js';

const [url, username, password, databaseUrl, consumersArg] = process.argv.slice(2) as [string, string, string, string, string];
const pool = new pg.Pool({ connectionString: databaseUrl, max: 4 });
await pool.query(
  'CREATE TABLE IF NOT EXISTS baseline_results (message_id TEXT PRIMARY KEY, device_id TEXT NOT NULL, body TEXT NOT NULL)',
);

type Waiting = { id: string; device: string; body: string; done: () => void; failed: (e: Error) => void };
let pending: Waiting[] = [];
let committing = false;

/** Group commit: one transaction for everything that arrived while the previous one was committing. */
async function flush(): Promise<void> {
  if (committing || pending.length === 0) return;
  committing = true;
  const batch = pending;
  pending = [];
  try {
    await pool.query(
      `INSERT INTO baseline_results (message_id, device_id, body)
        SELECT * FROM unnest($1::text[], $2::text[], $3::text[]) ON CONFLICT (message_id) DO NOTHING`,
      [batch.map((m) => m.id), batch.map((m) => m.device), batch.map((m) => m.body)],
    );
    for (const m of batch) m.done();
  } catch (error) {
    for (const m of batch) m.failed(error as Error);
  } finally {
    committing = false;
    void flush();
  }
}

const subscribed: Promise<void>[] = [];
for (let i = 0; i < Number(consumersArg); i++) {
  const client = mqtt.connect(url, {
    clientId: `baseline-${i}`,
    username,
    password,
    protocolVersion: 5,
    clean: true,
    properties: { sessionExpiryInterval: 0, receiveMaximum: 1000 },
  });
  const commitOf = pipelineAcks(client);
  client.handleMessage = (packet, callback) => {
    const body = Buffer.isBuffer(packet.payload) ? packet.payload.toString('utf8') : String(packet.payload);
    // The message id is the one field read (idempotence); everything else is stored as it came.
    const id = /"messageId":"([^"]+)"/.exec(body)?.[1] ?? '';
    const committed = new Promise<void>((done, failed) =>
      pending.push({ id, device: packet.topic.split('/')[3] ?? '', body, done, failed }),
    );
    if (packet.messageId !== undefined) commitOf.set(packet.messageId, committed);
    void flush();
    callback();
  };
  subscribed.push(
    new Promise((resolve) =>
      client.on('connect', () => client.subscribe(sharedFleetFilter('baseline', 'results'), { qos: 1 }, () => resolve())),
    ),
  );
}
await Promise.all(subscribed);
process.stdout.write('ready\n');
process.on('SIGTERM', () => process.exit(0));
