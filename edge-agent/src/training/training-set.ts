import { closeSync, mkdirSync, openSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { Value } from '@sinclair/typebox/value';
import { LabelsMessage, VigilError } from '@vigil/shared';
import type { DeviceHttp } from '../identity/device-http.js';
import type { Acquisition } from '../imaging/image-attributes.js';
import type { TrainingInputStore } from './input-store.js';
import { drawDisc, toInputPixels } from './target-map.js';

/** The trainer's input format (the same files the phantom trainer writes). */
export interface TrainingSetIndex {
  count: number;
  width: number;
  height: number;
  stride: number;
  /** Where the labels came from, for the new model's manifest. */
  source: { deviceId: string; generatedAt: string; model: string };
  images: {
    file: string;
    patientId: string;
    positive: boolean;
    findings: number;
    centres: { x: number; y: number; kind: 'finding' | 'lookalike' }[];
    /** Which model branch the input is for (film or digital; absent: digital). */
    acquisition?: Acquisition;
  }[];
}

export interface TrainingSetSummary {
  images: number;
  lesions: number;
  negatives: number;
  /** Labelled images without a kept input (kept off, or pruned), or kept for another input size. */
  skipped: { noInput: number; otherInputSize: number };
}

/** Fetches this device's labels from the hub with its own credentials. */
export async function fetchLabels(o: { hubUrl: string; http: DeviceHttp }): Promise<LabelsMessage> {
  if (!o.hubUrl) throw new VigilError('VIGIL_CONFIG_INVALID', 'hubUrl is not set: the hub API URL to fetch labels from');
  const url = `${o.hubUrl.replace(/\/$/, '')}/api/v1/device/labels`;
  let response: Response;
  try {
    response = await o.http.fetch(url);
  } catch (error) {
    throw new VigilError('VIGIL_LABELS_UNAVAILABLE', `cannot reach ${url}: ${(error as Error).message}`);
  }
  if (!response.ok) throw new VigilError('VIGIL_LABELS_UNAVAILABLE', `${url} answered HTTP ${response.status}`);
  const body: unknown = await response.json().catch(() => undefined);
  if (!Value.Check(LabelsMessage, body))
    throw new VigilError('VIGIL_LABELS_UNAVAILABLE', `${url} sent something that is not ${'vigil.labels/1'}`);
  return body;
}

/**
 * Writes a training set from the hub's labels and the inputs this edge kept: inputs.u16 (N×H×W),
 * targets.u8 (N×H/stride×W/stride: a disc per lesion), index.json (lesions as crop centres, dismissed
 * findings as hard negatives). Only images whose kept input has the model's input size are used.
 */
export function assembleTrainingSet(o: {
  labels: LabelsMessage;
  inputs: TrainingInputStore;
  out: string;
  width: number;
  height: number;
  stride: number;
}): TrainingSetSummary {
  mkdirSync(o.out, { recursive: true });
  const map = { width: Math.ceil(o.width / o.stride), height: Math.ceil(o.height / o.stride), stride: o.stride };
  const usable = [];
  const skipped = { noInput: 0, otherInputSize: 0 };
  for (const label of o.labels.images) {
    const kept = o.inputs.get(label.instanceKey);
    if (!kept) skipped.noInput++;
    else if (kept.meta.width !== o.width || kept.meta.height !== o.height) skipped.otherInputSize++;
    else usable.push({ label, kept });
  }
  const targets = new Uint8Array(usable.length * map.width * map.height);
  const index: TrainingSetIndex = {
    count: usable.length,
    width: o.width,
    height: o.height,
    stride: o.stride,
    source: {
      deviceId: o.labels.deviceId,
      generatedAt: o.labels.generatedAt,
      model: [...new Set(usable.map((u) => `${u.label.model.name} ${u.label.model.version}`))].join(', '),
    },
    images: [],
  };
  let lesions = 0;
  let negatives = 0;
  const fd = openSync(join(o.out, 'inputs.u16'), 'w');
  try {
    for (const [n, { label, kept }] of usable.entries()) {
      writeSync(fd, kept.tensor);
      for (const lesion of label.lesions) drawDisc(targets, n * map.width * map.height, map, kept.meta, lesion);
      const centre = (p: { x: number; y: number }, kind: 'finding' | 'lookalike') => {
        const c = toInputPixels(kept.meta, p);
        return { x: Math.round(c.x), y: Math.round(c.y), kind };
      };
      lesions += label.lesions.length;
      negatives += label.negatives.length;
      index.images.push({
        file: label.instanceKey,
        patientId: label.patientKey,
        positive: label.lesions.length > 0,
        findings: label.lesions.length,
        centres: [...label.lesions.map((l) => centre(l, 'finding')), ...label.negatives.map((l) => centre(l, 'lookalike'))],
        ...(kept.meta.acquisition ? { acquisition: kept.meta.acquisition } : {}),
      });
    }
  } finally {
    closeSync(fd);
  }
  writeFileSync(join(o.out, 'targets.u8'), Buffer.from(targets.buffer));
  writeFileSync(join(o.out, 'index.json'), `${JSON.stringify(index, null, 2)}\n`);
  return { images: usable.length, lesions, negatives, skipped };
}
