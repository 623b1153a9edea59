/**
 * DICOM SR content items as dcmjs "naturalized" datasets (attribute keywords as keys). Written here
 * rather than with dcmjs's own TID 1500 template classes: those (dcmjs 0.50) reject a valid tracking
 * identifier in `Measurement`, print every measurement to the console, and forbid image-level
 * qualitative evaluations beside measurements (ADR 0022). The encoding itself is dcmjs's.
 */
export interface Code {
  CodeValue: string;
  CodingSchemeDesignator: string;
  CodeMeaning: string;
}

export type Item = Record<string, unknown>;

export const code = (value: string, scheme: string, meaning: string): Code => ({
  CodeValue: value,
  CodingSchemeDesignator: scheme,
  CodeMeaning: meaning,
});

type Relationship = 'CONTAINS' | 'HAS CONCEPT MOD' | 'HAS OBS CONTEXT' | 'HAS PROPERTIES' | 'SELECTED FROM' | 'INFERRED FROM';

function item(
  relationship: Relationship | undefined,
  valueType: string,
  name: Code | undefined,
  rest: Item,
  children?: Item[],
): Item {
  return {
    ...(relationship ? { RelationshipType: relationship } : {}),
    ValueType: valueType,
    ...(name ? { ConceptNameCodeSequence: [name] } : {}),
    ...rest,
    ...(children && children.length > 0 ? { ContentSequence: children } : {}),
  };
}

export const container = (relationship: Relationship | undefined, name: Code, children: Item[], templateId?: string): Item =>
  item(
    relationship,
    'CONTAINER',
    name,
    {
      ContinuityOfContent: 'SEPARATE',
      ...(templateId ? { ContentTemplateSequence: [{ MappingResource: 'DCMR', TemplateIdentifier: templateId }] } : {}),
    },
    children,
  );

export const codeItem = (relationship: Relationship, name: Code, value: Code, children?: Item[]): Item =>
  item(relationship, 'CODE', name, { ConceptCodeSequence: [value] }, children);

export const textItem = (relationship: Relationship, name: Code, value: string): Item =>
  item(relationship, 'TEXT', name, { TextValue: value });

export const uidItem = (relationship: Relationship, name: Code, uid: string): Item =>
  item(relationship, 'UIDREF', name, { UID: uid });

/** A number with its UCUM unit, rounded to what DS (16 characters) can hold. */
export const numItem = (relationship: Relationship, name: Code, value: number, unit: Code, children?: Item[]): Item =>
  item(
    relationship,
    'NUM',
    name,
    { MeasuredValueSequence: [{ MeasurementUnitsCodeSequence: [unit], NumericValue: Number(value.toPrecision(10)) }] },
    children,
  );

export interface ImageReference {
  sopClassUid: string;
  sopInstanceUid: string;
}

export const imageItem = (relationship: Relationship, ref: ImageReference, name?: Code): Item =>
  item(relationship, 'IMAGE', name, {
    ReferencedSOPSequence: [{ ReferencedSOPClassUID: ref.sopClassUid, ReferencedSOPInstanceUID: ref.sopInstanceUid }],
  });

/** A 2-D region on an image (pixel coordinates: column, row), selected from that image. */
export const scoordItem = (
  relationship: Relationship,
  name: Code,
  graphicType: 'POINT' | 'CIRCLE' | 'POLYLINE',
  data: number[],
  on: ImageReference,
): Item => item(relationship, 'SCOORD', name, { GraphicType: graphicType, GraphicData: data }, [imageItem('SELECTED FROM', on)]);
