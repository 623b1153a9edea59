import { patientAndStudy, type ReportedImage, type ReportOptions } from './measurement-report.js';

export const GRAYSCALE_SOFTCOPY_PRESENTATION_STATE = '1.2.840.10008.5.1.4.1.1.11.1';

const da = (d: Date) => d.toISOString().slice(0, 10).replace(/-/g, '');
const tm = (d: Date) => d.toISOString().slice(11, 19).replace(/:/g, '');

/**
 * A Grayscale Softcopy Presentation State for viewers without SR support: on each analysed image of
 * the study, every finding the model reported drawn as a circle with a short label, on a graphic
 * layer named for the model. The images themselves are untouched; a viewer shows the annotations when
 * the presentation state is applied. Carries the patient's identity (clinic PACS only).
 */
export function buildPresentationState(
  o: Omit<ReportOptions, 'images'> & { images: readonly ReportedImage[]; label: string },
): Record<string, unknown> {
  const first = o.images[0];
  if (!first) throw new Error('a presentation state needs at least one image');
  const study = first.identity;
  const layer = 'VIGIL_AI';
  const annotated = o.images.filter((i) => i.findings.length > 0);
  const series = new Map<string, ReportedImage[]>();
  for (const i of o.images) series.set(i.identity.seriesInstanceUid, [...(series.get(i.identity.seriesInstanceUid) ?? []), i]);
  const imageRef = (i: ReportedImage) => ({
    ReferencedSOPClassUID: i.identity.sopClassUid,
    ReferencedSOPInstanceUID: i.identity.sopInstanceUid,
  });
  return {
    SpecificCharacterSet: 'ISO_IR 192',
    SOPClassUID: GRAYSCALE_SOFTCOPY_PRESENTATION_STATE,
    SOPInstanceUID: o.sopInstanceUid,
    ...patientAndStudy(study),
    Modality: 'PR',
    // Type 2C for a paired structure: empty, as the presentation state spans both breasts.
    Laterality: '',
    SeriesInstanceUID: o.seriesInstanceUid,
    SeriesNumber: o.seriesNumber,
    SeriesDescription: `AI findings: ${o.model.name} ${o.model.version}`,
    Manufacturer: o.device.manufacturer,
    ManufacturerModelName: o.device.modelName,
    DeviceSerialNumber: o.device.serialNumber,
    SoftwareVersions: o.device.softwareVersion,
    InstanceNumber: o.instanceNumber,
    ContentLabel: o.label,
    ContentDescription: `Findings of ${o.model.name} ${o.model.version}`,
    PresentationCreationDate: da(o.contentDateTime),
    PresentationCreationTime: tm(o.contentDateTime),
    ContentCreatorName: [{ Alphabetic: 'VIGIL^AI' }],
    InstanceCreationDate: da(o.contentDateTime),
    InstanceCreationTime: tm(o.contentDateTime),
    ReferencedSeriesSequence: [...series].map(([uid, images]) => ({
      SeriesInstanceUID: uid,
      ReferencedImageSequence: images.map(imageRef),
    })),
    DisplayedAreaSelectionSequence: o.images.map((i) => ({
      ReferencedImageSequence: [imageRef(i)],
      DisplayedAreaTopLeftHandCorner: [1, 1],
      DisplayedAreaBottomRightHandCorner: [i.columns, i.rows],
      PresentationSizeMode: 'SCALE TO FIT',
      PresentationPixelSpacing: [i.pixelSpacingMm, i.pixelSpacingMm],
    })),
    GraphicLayerSequence: [{ GraphicLayer: layer, GraphicLayerOrder: 1, GraphicLayerDescription: `${o.model.name} findings` }],
    GraphicAnnotationSequence: annotated.map((i) => ({
      ReferencedImageSequence: [imageRef(i)],
      GraphicLayer: layer,
      GraphicObjectSequence: i.findings.map((f) => {
        const cx = f.x * i.columns;
        const cy = f.y * i.rows;
        const r = Math.max(2, f.diameterMm / 2 / i.pixelSpacingMm);
        return {
          GraphicAnnotationUnits: 'PIXEL',
          GraphicDimensions: 2,
          NumberOfGraphicPoints: 2,
          GraphicData: [cx, cy, cx + r, cy].map((v) => Math.round(v * 100) / 100),
          GraphicType: 'CIRCLE',
          GraphicFilled: 'N',
        };
      }),
      TextObjectSequence: i.findings.map((f) => {
        const x = Math.min(i.columns - 1, f.x * i.columns + f.diameterMm / 2 / i.pixelSpacingMm + 4);
        const y = Math.max(1, f.y * i.rows);
        return {
          AnchorPointAnnotationUnits: 'PIXEL',
          UnformattedTextValue: `${f.diameterMm.toFixed(1)} mm, score ${f.score.toFixed(2)}`,
          AnchorPoint: [Math.round(x), Math.round(y)],
          AnchorPointVisibility: 'N',
        };
      }),
    })),
    PresentationLUTShape: 'IDENTITY',
    ImageHorizontalFlip: 'N',
    ImageRotation: 0,
  };
}
