import { randomBytes, randomUUID } from 'node:crypto';
import rateLimit from '@fastify/rate-limit';
import { pseudonymOfUid, pseudonymUid, VigilError } from '@vigil/shared';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { admitClinician, type ClinicTokenCheck } from '../reid/clinic-token.js';
import type { ReidAuditLog } from '../reid/reid-audit.js';
import type { ClinicImageStore, KeptImage } from './image-store.js';

export interface DicomwebOptions extends ClinicTokenCheck {
  store: ClinicImageStore;
  audit: ReidAuditLog;
  /** Requests per minute per browser address (metadata and frames together). */
  requestsPerMinute: number;
}

/** Digital Mammography X-Ray Image Storage – For Presentation. */
const MG_FOR_PRESENTATION = '1.2.840.10008.5.1.4.1.1.1.2';
const EXPLICIT_VR_LITTLE_ENDIAN = '1.2.840.10008.1.2.1';

type Json = Record<string, { vr: string; Value?: unknown[]; BulkDataURI?: string }>;

const value = (vr: string, v: unknown): { vr: string; Value: unknown[] } => ({ vr, Value: Array.isArray(v) ? v : [v] });

function frameUrl(i: KeptImage): string {
  return `studies/${pseudonymUid(i.studyKey)}/series/${pseudonymUid(i.seriesKey)}/instances/${pseudonymUid(i.instanceKey)}/frames/1`;
}

/** PS3.18 F.2 DICOM JSON for one kept image: the attributes a viewer needs, pseudonymous UIDs only. */
export function instanceJson(i: KeptImage, base: string, bulk: boolean): Json {
  const json: Json = {
    '00080016': value('UI', MG_FOR_PRESENTATION),
    '00080018': value('UI', pseudonymUid(i.instanceKey)),
    '00080020': value('DA', i.studyDate.replaceAll('-', '')),
    '00080060': value('CS', i.modality),
    '0020000D': value('UI', pseudonymUid(i.studyKey)),
    '0020000E': value('UI', pseudonymUid(i.seriesKey)),
    '00200013': value('IS', 1),
    '00200062': value('CS', i.laterality === 'U' ? '' : i.laterality),
    '00185101': value('CS', i.view),
    '00280002': value('US', 1),
    '00280004': value('CS', i.photometric),
    '00280008': value('IS', 1),
    '00280010': value('US', i.rows),
    '00280011': value('US', i.columns),
    '00280100': value('US', i.bitsAllocated),
    '00280101': value('US', i.bitsStored),
    '00280102': value('US', i.bitsStored - 1),
    '00280103': value('US', i.pixelRepresentation),
    '00281050': value('DS', i.windowCenter),
    '00281051': value('DS', i.windowWidth),
    '00281052': value('DS', i.rescaleIntercept),
    '00281053': value('DS', i.rescaleSlope),
  };
  if (i.pixelSpacingMm) json['00280030'] = value('DS', i.pixelSpacingMm);
  if (bulk) json['7FE00010'] = { vr: i.bitsAllocated === 8 ? 'OB' : 'OW', BulkDataURI: `${base}/${frameUrl(i)}` };
  return json;
}

/**
 * The clinic edge's DICOMweb (PS3.18) subset for clinicians' viewers, from its own image store:
 *
 * - QIDO-RS `GET /dicomweb/studies/{study}/instances`: the instances of a study held here;
 * - WADO-RS `GET /dicomweb/studies/{study}/metadata`: their DICOM JSON, with the frame's BulkDataURI;
 * - WADO-RS `GET …/instances/{instance}/frames/1`: the frame's stored values, uncompressed little
 *   endian, as `multipart/related; type="application/octet-stream"`.
 *
 * Studies and instances are addressed by `2.25.` UIDs made from the hub's pseudonyms (pseudonym-uid.ts),
 * so a dashboard link needs no original UID. Every request takes the same hub-signed token as names
 * (clinicAccess), is rate-limited per address, and is audited here and at the hub (pseudonyms only).
 */
export async function dicomwebRoutes(app: FastifyInstance, o: DicomwebOptions): Promise<void> {
  // One budget per address across metadata, instances and frames: the plugin's global store, for the
  // routes registered after it (these; the names route comes before and keeps its own limits).
  await app.register(rateLimit, { global: true, max: o.requestsPerMinute, timeWindow: '1 minute' });

  const audited = async (request: FastifyRequest, reply: FastifyReply, studyUid: string): Promise<KeptImage[] | undefined> => {
    const eventId = randomUUID();
    const admitted = await admitClinician(request, reply, o, { eventId, kind: 'images' });
    if (!admitted) return undefined;
    const studyKey = pseudonymOfUid(studyUid);
    if (!studyKey) throw new VigilError('VIGIL_API_INVALID_REQUEST', `${studyUid} is not a study UID this edge serves`);
    const images = o.store.study(studyKey);
    o.audit.record({
      eventId,
      kind: 'images',
      username: admitted.claims.username,
      role: admitted.claims.role,
      patientKeys: [...new Set(images.map((i) => i.patientKey))],
      outcome: 'resolved',
      token: admitted.bearer,
    });
    if (images.length === 0) {
      await reply.code(404).send({
        error: { code: 'VIGIL_IMAGE_NOT_HELD', message: 'this edge holds no images of that study' },
      });
      return undefined;
    }
    return images;
  };

  const base = (request: FastifyRequest) => `${request.protocol}://${request.host}/dicomweb`;

  // QIDO-RS lists the study's instances; WADO-RS metadata is the same with each frame's BulkDataURI.
  for (const [resource, bulk] of [
    ['instances', false],
    ['metadata', true],
  ] as const) {
    app.get<{ Params: { study: string } }>(`/dicomweb/studies/:study/${resource}`, async (request, reply) => {
      const found = await audited(request, reply, request.params.study);
      if (!found) return reply;
      return reply.type('application/dicom+json').send(found.map((i) => instanceJson(i, base(request), bulk)));
    });
  }

  app.get<{ Params: { study: string; series: string; instance: string; frame: string } }>(
    '/dicomweb/studies/:study/series/:series/instances/:instance/frames/:frame',
    async (request, reply) => {
      const found = await audited(request, reply, request.params.study);
      if (!found) return reply;
      const instanceKey = pseudonymOfUid(request.params.instance);
      const image = found.find((i) => i.instanceKey === instanceKey && pseudonymUid(i.seriesKey) === request.params.series);
      if (request.params.frame !== '1' || !image) {
        return reply.code(404).send({ error: { code: 'VIGIL_IMAGE_NOT_HELD', message: 'no such frame of that study here' } });
      }
      const pixels = await o.store.frame(image.instanceKey);
      if (!pixels) return reply.code(404).send({ error: { code: 'VIGIL_IMAGE_NOT_HELD', message: 'the frame was removed' } });
      const boundary = randomBytes(12).toString('hex');
      const head = Buffer.from(
        `--${boundary}\r\nContent-Type: application/octet-stream; transfer-syntax=${EXPLICIT_VR_LITTLE_ENDIAN}\r\n` +
          `Content-Location: ${base(request)}/${frameUrl(image)}\r\n\r\n`,
      );
      const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
      return reply
        .type(
          `multipart/related; type="application/octet-stream"; transfer-syntax=${EXPLICIT_VR_LITTLE_ENDIAN}; boundary=${boundary}`,
        )
        .header('cache-control', 'private, no-store')
        .send(Buffer.concat([head, pixels, tail]));
    },
  );
}
