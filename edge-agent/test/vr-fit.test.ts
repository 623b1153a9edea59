// Every value the edge writes into a DICOM object fits its VR: what fitToVr truncates, drops and
// refuses, checked against dcmjs's own encoder (which refuses a value longer than its VR).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { encodeP10 } from '../src/reporting/dicom-writer.js';
import { fitToVr } from '../src/reporting/vr-fit.js';

const base = { SOPClassUID: '1.2.840.10008.5.1.4.1.1.88.34', SOPInstanceUID: '2.25.1234' };

test('over-long strings are cut to their VR, malformed dates, times and codes dropped, noted by keyword only', () => {
  const long = {
    ...base,
    PatientName: [{ Alphabetic: `${'Name'.repeat(20)}^Given` }],
    ReferringPhysicianName: `${'Dr'.repeat(40)}`,
    PatientID: 'p'.repeat(80),
    AccessionNumber: 'A2021071600019999',
    StudyID: 'study\\two',
    StudyDate: '2021-07-16',
    StudyTime: '10:11:12',
    PatientSex: 'female',
    ContentSequence: [{ TextValue: 'kept', ConceptNameCodeSequence: [{ CodeMeaning: 'm'.repeat(70), CodeValue: 'x' }] }],
  };
  assert.throws(() => encodeP10(long), /exceeds max length/, 'dcmjs refuses the raw values');
  const { dataset, notes } = fitToVr(long);
  const encoded = encodeP10(dataset);
  assert.ok(encoded.length > 132, 'the fitted dataset encodes');
  assert.equal((dataset.PatientName as { Alphabetic: string }[])[0]?.Alphabetic.length, 64);
  assert.equal((dataset.PatientID as string).length, 64);
  assert.equal(dataset.AccessionNumber, 'A202107160001999', 'SH: 16 characters');
  assert.equal(dataset.StudyID, 'study two', 'no backslash inside one value');
  assert.equal(dataset.StudyDate, '', 'a date that is not YYYYMMDD is dropped, not guessed');
  assert.equal(dataset.StudyTime, '');
  assert.equal(dataset.PatientSex, '', 'CS is upper case');
  const seq = (dataset.ContentSequence as Record<string, unknown>[])[0]?.ConceptNameCodeSequence as Record<string, string>[];
  assert.equal(seq[0]?.CodeMeaning?.length, 64, 'inside sequences too');
  assert.deepEqual(notes.map((n) => `${n.keyword}:${n.action}`).sort(), [
    'AccessionNumber:truncated',
    'ContentSequence[0].ConceptNameCodeSequence[0].CodeMeaning:truncated',
    'PatientID:truncated',
    'PatientName:truncated',
    'PatientSex:dropped',
    'ReferringPhysicianName:truncated',
    'StudyDate:dropped',
    'StudyID:truncated',
    'StudyTime:dropped',
  ]);
  assert.ok(!JSON.stringify(notes).includes('Name'.repeat(3)), 'notes hold no value');
});

test('values that fit are untouched; a UID that is not a UID is a coded error', () => {
  const fine = {
    ...base,
    PatientName: [{ Alphabetic: 'Doe^Jane' }],
    StudyDate: '20210716',
    StudyTime: '101112.5',
    PatientSex: 'F',
  };
  assert.deepEqual(fitToVr(fine), { dataset: fine, notes: [] });
  assert.throws(() => fitToVr({ ...base, StudyInstanceUID: `1.2.${'3'.repeat(70)}` }), { code: 'VIGIL_DICOM_VALUE_INVALID' });
  assert.throws(() => fitToVr({ ...base, StudyInstanceUID: '1.2.abc' }), { code: 'VIGIL_DICOM_VALUE_INVALID' });
});
