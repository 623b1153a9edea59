import { type Static, Type } from '@sinclair/typebox';
import { PseudonymKey } from './common.js';

export const LABELS_SCHEMA = 'vigil.labels/1';

const Position = {
  x: Type.Number({ minimum: 0, maximum: 1 }),
  y: Type.Number({ minimum: 0, maximum: 1 }),
  diameterMm: Type.Number({ minimum: 0, maximum: 500 }),
};

/**
 * Clinicians' verdicts on one device's results, as training labels for that device only: keyed by
 * the pseudonymous instance key the edge itself derived, so the edge finds its own kept model input.
 * Carries no image and no identity. Lesions: confirmed findings and findings the model missed;
 * dismissed findings are hard negatives; uncertain ones are left out.
 */
export const ImageLabel = Type.Object(
  {
    resultId: Type.String({ maxLength: 128 }),
    instanceKey: PseudonymKey,
    patientKey: PseudonymKey,
    model: Type.Object({ name: Type.String(), version: Type.String() }),
    lesions: Type.Array(Type.Object(Position, { additionalProperties: false }), { maxItems: 200 }),
    negatives: Type.Array(Type.Object(Position, { additionalProperties: false }), { maxItems: 200 }),
  },
  { additionalProperties: false },
);
export type ImageLabel = Static<typeof ImageLabel>;

export const LabelsMessage = Type.Object(
  {
    schema: Type.Literal(LABELS_SCHEMA),
    deviceId: Type.String(),
    generatedAt: Type.String(),
    images: Type.Array(ImageLabel),
  },
  { additionalProperties: false },
);
export type LabelsMessage = Static<typeof LabelsMessage>;
