#!/usr/bin/python3
"""Writes a small MG image full of PHI (names, ids, dates, addresses, free text, private tags) for
de-identification tests, and prints the PHI values as JSON.

usage: make_phi_image.py OUT PATIENT_ID STUDY_UID
"""
import json, sys
import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

out, patient_id, study_uid = sys.argv[1], sys.argv[2], sys.argv[3]
phi = {
    "PatientName": "SMITHERSON^GLORIA^ANNE",
    "PatientID": patient_id,
    "IssuerOfPatientID": "ST-ELSEWHERE-HOSPITAL",
    "PatientBirthDate": "19610314",
    "PatientAddress": "42 Larkspur Crescent, Fernvale",
    "OtherPatientIDs": "NHS-998-877-6655",
    "PatientTelephoneNumbers": "+44 20 7946 0958",
    "ReferringPhysicianName": "OKONKWO^ADAEZE",
    "PerformingPhysicianName": "LINDQVIST^BJORN",
    "OperatorsName": "TECH^MARIELLA",
    "InstitutionName": "Fernvale Breast Centre",
    "InstitutionAddress": "1 Hospital Road, Fernvale",
    "AccessionNumber": "ACC20260117X",
    "StudyID": "STUDY-7781",
    "StudyDescription": "Screening for Gloria, history of lump noted by Dr Okonkwo",
    "ImageComments": "Patient anxious; daughter Marissa present",
    "DeviceSerialNumber": "SN-MAMMO-55123",
    "StationName": "FERNVALE-MG-ROOM2",
}
meta = FileMetaDataset()
meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.1.2"
meta.MediaStorageSOPInstanceUID = generate_uid()
meta.TransferSyntaxUID = ExplicitVRLittleEndian
ds = Dataset()
ds.file_meta = meta
ds.SOPClassUID = meta.MediaStorageSOPClassUID
ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
ds.StudyInstanceUID = study_uid
ds.SeriesInstanceUID = generate_uid()
for key, value in phi.items():
    setattr(ds, key, value)
ds.StudyDate = "20260117"
ds.PatientAge = "064Y"
ds.Modality = "MG"
ds.ImageLaterality = "L"
ds.ViewPosition = "CC"
ds.add_new(0x00291010, "LO", "PRIVATE-PHI Gloria Smitherson 19610314")
ds.add_new(0x00290010, "LO", "ACME PRIVATE")
ds.Rows, ds.Columns = 32, 32
ds.SamplesPerPixel = 1
ds.PhotometricInterpretation = "MONOCHROME2"
ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
ds.PixelData = (np.arange(32 * 32, dtype=np.uint16) % 4096).tobytes()
ds.is_little_endian, ds.is_implicit_VR = True, False
ds.save_as(out, write_like_original=False)
phi.update({"StudyInstanceUID": study_uid, "SeriesInstanceUID": str(ds.SeriesInstanceUID), "SOPInstanceUID": str(ds.SOPInstanceUID)})
print(json.dumps(phi))
