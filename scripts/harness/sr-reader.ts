// Reads back an SR the edge wrote (tests): the patient, the referenced images and the measurements.
import dcmjsDimse from 'dcmjs-dimse';

const { Dataset } = dcmjsDimse;

type Item = Record<string, unknown>;

export interface ReadReport {
  sopClassUid: string;
  sopInstanceUid: string;
  patientId: string;
  patientName: string;
  studyInstanceUid: string;
  /** Evidence: every referenced SOP Instance UID. */
  references: string[];
  /** Measurement groups: tracking id, diameter (mm), area (mm²), score, and the image each region is on. */
  findings: { tracking: string; diameterMm: number; areaMm2: number; score: number; image: string }[];
  texts: string[];
}

function readDataset(path: string): Promise<Item> {
  return new Promise((resolve, reject) =>
    Dataset.fromFile(path, (error, dataset) =>
      error || !dataset ? reject(error ?? new Error(path)) : resolve(dataset.getElements()),
    ),
  );
}

const meaning = (i: Item) => ((i.ConceptNameCodeSequence as Item[] | undefined)?.[0]?.CodeMeaning as string | undefined) ?? '';

export async function readReport(path: string): Promise<ReadReport> {
  const ds = await readDataset(path);
  const findings: ReadReport['findings'] = [];
  const texts: string[] = [];
  const walk = (items: Item[] | undefined) => {
    for (const item of items ?? []) {
      if (item.ValueType === 'CONTAINER' && meaning(item) === 'Measurement Group') {
        const children = (item.ContentSequence as Item[]) ?? [];
        const num = (name: string) => {
          const n = children.find((c) => c.ValueType === 'NUM' && meaning(c) === name);
          return Number(((n?.MeasuredValueSequence as Item[] | undefined)?.[0]?.NumericValue as number | string) ?? Number.NaN);
        };
        const region = children.find((c) => c.ValueType === 'SCOORD');
        const image = ((region?.ContentSequence as Item[] | undefined)?.[0]?.ReferencedSOPSequence as Item[] | undefined)?.[0];
        findings.push({
          tracking: (children.find((c) => meaning(c) === 'Tracking Identifier')?.TextValue as string) ?? '',
          diameterMm: num('Diameter'),
          areaMm2: num('Area'),
          score: num('Probability of cancer'),
          image: (image?.ReferencedSOPInstanceUID as string) ?? '',
        });
        continue;
      }
      if (item.ValueType === 'TEXT') texts.push(item.TextValue as string);
      walk(item.ContentSequence as Item[] | undefined);
    }
  };
  walk(ds.ContentSequence as Item[]);
  const evidence = (ds.CurrentRequestedProcedureEvidenceSequence as Item[] | undefined) ?? [];
  const references = evidence.flatMap((s) =>
    ((s.ReferencedSeriesSequence as Item[]) ?? []).flatMap((r) =>
      ((r.ReferencedSOPSequence as Item[]) ?? []).map((x) => x.ReferencedSOPInstanceUID as string),
    ),
  );
  const name = ds.PatientName as { Alphabetic?: string }[] | string | undefined;
  return {
    sopClassUid: ds.SOPClassUID as string,
    sopInstanceUid: ds.SOPInstanceUID as string,
    patientId: ds.PatientID as string,
    patientName: Array.isArray(name) ? (name[0]?.Alphabetic ?? '') : (name ?? ''),
    studyInstanceUid: ds.StudyInstanceUID as string,
    references,
    findings,
    texts,
  };
}
