import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { assertSchema, encodeMessage, OVERLAY_PNG_MAX_BASE64, ResultMessage } from '@vigil/shared';
import sharp from 'sharp';
import { syntheticResult } from '../../scripts/harness/result-factory.js';
import { withOverlay } from '../src/pipeline/result-stage.js';

const result = syntheticResult({ clinicId: 'clinic-a', deviceId: 'edge-a1' }, 7);

test('an overlay that fits travels with the result, which stays schema-valid', async () => {
  const png = await sharp({ create: { width: 64, height: 80, channels: 3, background: { r: 128, g: 128, b: 128 } } })
    .png()
    .toBuffer();
  const attached = withOverlay(result, png);
  assert.equal(attached.omitted, false);
  assert.deepEqual(Buffer.from(attached.result.overlayPng ?? '', 'base64'), png);
  assertSchema(ResultMessage, attached.result, 'result');
});

test('an overlay too large for a result is left out instead of making the result invalid', async () => {
  // Incompressible content at the overlay's largest size: a PNG of ~240 KB, ~320 000 base64 characters.
  const noise = randomBytes(256 * 320 * 3);
  const png = await sharp(noise, { raw: { width: 256, height: 320, channels: 3 } })
    .png()
    .toBuffer();
  assert.ok(png.toString('base64').length > OVERLAY_PNG_MAX_BASE64);
  assert.throws(() => assertSchema(ResultMessage, { ...result, overlayPng: png.toString('base64') }, 'result'), {
    code: 'VIGIL_PAYLOAD_SCHEMA',
  });
  const attached = withOverlay(result, png);
  assert.equal(attached.omitted, true);
  assert.equal(attached.result.overlayPng, undefined);
  assertSchema(ResultMessage, attached.result, 'result');
  assert.ok(encodeMessage(attached.result).byteLength < 256 * 1024);
});
