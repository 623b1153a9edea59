// One soak simulator process: a share of the fleet as real MQTT connections over TLS. Every device
// sends telemetry every `telemetryS` seconds (QoS 1, released at the broker's PUBACK, as edges do);
// "result devices" also run the edge's own outbox and publisher with end-to-end receipts and enqueue
// results when the parent asks for a burst or a probe. Enqueued result ids go back to the parent,
// which counts sent against stored. A restarted process (after kill -9) reopens the same outboxes.
// Input: the path of a JSON file (SimConfig). IPC: parent → { burst: n } | { probe: id } | { stop: true };
// child → { ready } | { enqueued: ids[] } | { connected: n }.
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { MqttPublisher, Outbox } from '@vigil/edge-agent';
import {
  createLogger,
  type DeviceAddress,
  encodeMessage,
  RESULT_SCHEMA,
  type ResultMessage,
  resultMessageId,
  topicFor,
} from '@vigil/shared';
import mqtt, { type MqttClient } from 'mqtt';
import { telemetrySample } from '../harness/fleet-messages.js';

export interface SimDevice extends DeviceAddress {
  password: string;
  results: boolean;
}

export interface SimConfig {
  url: string;
  caFile: string;
  dataDir: string;
  devices: SimDevice[];
  telemetryS: number;
  /** Index of this process. */
  index: number;
  /** Prefix of this run's result ids (unique per run and process start). */
  run: string;
}

const config = JSON.parse(readFileSync(process.argv[2] as string, 'utf8')) as SimConfig;
const logger = createLogger('soak-sim', { level: 'silent' });
const ca = readFileSync(config.caFile);
mkdirSync(config.dataDir, { recursive: true });

const telemetryClients: MqttClient[] = [];
const publishers: { device: SimDevice; outbox: Outbox; publisher: MqttPublisher }[] = [];
let sequence = 0;

function result(device: SimDevice, id: string): ResultMessage {
  const key = (what: string) => createHash('sha256').update(`${what}/${device.deviceId}/${id}`).digest('hex').slice(0, 32);
  const instanceKey = key('instance');
  return {
    schema: RESULT_SCHEMA,
    messageId: resultMessageId(instanceKey, 'vigil-demo', '1.0.0'),
    clinicId: device.clinicId,
    deviceId: device.deviceId,
    // The outbox insert time: the hub's commit time minus this is the end-to-end latency.
    createdAt: new Date().toISOString(),
    patientKey: key('patient'),
    studyKey: key('study'),
    seriesKey: key('series'),
    instanceKey,
    studyDate: new Date().toISOString().slice(0, 10),
    modality: 'MG',
    laterality: 'L',
    view: 'CC',
    model: { name: 'vigil-demo', version: '1.0.0' },
    score: 0.1,
    findings: [],
    image: { rows: 4096, columns: 3328, pixelSpacingMm: 0.07 },
    timingsMs: { decode: 10, preprocess: 2, infer: 7 },
  };
}

function enqueue(device: (typeof publishers)[number], id: string): string {
  const r = result(device.device, id);
  device.outbox.enqueue({ messageId: r.messageId, kind: 'results', topic: topicFor(r, 'results'), payload: encodeMessage(r) });
  return r.messageId;
}

for (const device of config.devices) {
  const address: DeviceAddress = { clinicId: device.clinicId, deviceId: device.deviceId };
  if (device.results) {
    const outbox = new Outbox({ path: join(config.dataDir, `${device.deviceId}.sqlite`), maxBytes: 1e9, logger });
    const publisher = new MqttPublisher({
      address,
      url: config.url,
      username: device.deviceId,
      password: device.password,
      caFile: config.caFile,
      protocolVersion: 5,
      keepaliveS: 30,
      inflightWindow: 100,
      reconnect: { minMs: 200, maxMs: 5000 },
      outbox,
      logger,
      statusFields: () => ({ agentVersion: 'soak' }),
      receipts: { timeoutMs: 10_000, maxTimeoutMs: 60_000 },
    });
    publisher.start();
    publishers.push({ device, outbox, publisher });
    // Result devices send their telemetry through the outbox, as the edge agent does.
    let minute = 0;
    setTimeout(
      () =>
        setInterval(() => {
          const t = telemetrySample(address, new Date(), minute++);
          outbox.enqueue({
            messageId: t.messageId,
            kind: 'telemetry',
            topic: topicFor(address, 'telemetry'),
            payload: encodeMessage(t),
          });
        }, config.telemetryS * 1000).unref(),
      Math.random() * config.telemetryS * 1000,
    ).unref();
    continue;
  }
  // Connections are opened a little apart: a real fleet does not connect in one millisecond.
  await new Promise((resolve) => setTimeout(resolve, 2));
  const client = mqtt.connect(config.url, {
    clientId: device.deviceId,
    username: device.deviceId,
    password: device.password,
    ca,
    rejectUnauthorized: true,
    protocolVersion: 5,
    keepalive: 60,
    reconnectPeriod: 1000 + Math.floor(Math.random() * 4000),
  });
  client.on('error', () => undefined);
  telemetryClients.push(client);
  // Each device samples on its own phase within the interval.
  const phase = Math.random() * config.telemetryS * 1000;
  setTimeout(() => {
    let minute = 0;
    const send = () => {
      if (!client.connected) return;
      const t = telemetrySample(address, new Date(), minute++);
      client.publish(topicFor(address, 'telemetry'), encodeMessage(t), { qos: 1 });
    };
    send();
    setInterval(send, config.telemetryS * 1000).unref();
  }, phase).unref();
}

const send = (message: object) => process.send?.(message);
send({ ready: true });
setInterval(() => {
  const connected = telemetryClients.filter((c) => c.connected).length + publishers.filter((p) => p.publisher.connected).length;
  send({ connected, awaiting: publishers.reduce((n, p) => n + p.outbox.stats().results, 0) });
}, 2000).unref();

process.on('message', (m: { burst?: number; probe?: string; stop?: boolean }) => {
  // The first result device carries only probes, so a probe measures recovery, not a burst's backlog.
  const bursting = publishers.length > 1 ? publishers.slice(1) : publishers;
  if (m.burst && bursting.length > 0) {
    const ids: string[] = [];
    for (let i = 0; i < m.burst; i++) {
      const p = bursting[i % bursting.length] as (typeof publishers)[number];
      ids.push(enqueue(p, `${config.run}-${process.pid}-b${sequence++}`));
    }
    send({ enqueued: ids });
  }
  if (m.probe && publishers.length > 0) {
    send({ enqueued: [enqueue(publishers[0] as (typeof publishers)[number], m.probe)], probe: m.probe });
  }
  if (m.stop) {
    void (async () => {
      for (const p of publishers) await p.publisher.stop();
      for (const p of publishers) p.outbox.close();
      await Promise.all(telemetryClients.map((c) => c.endAsync(true)));
      process.exit(0);
    })();
  }
});
