#!/usr/bin/python3
"""Writes a small synthetic grey image as explicit VR little endian DICOM (test fixture source).

usage: make_test_image.py OUT ROWS COLS BITS_STORED SIGNED(0|1) [MODALITY]
The pattern (gradient + disc + deterministic noise) exercises every bit of the stored range.
"""
import sys
import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid, SecondaryCaptureImageStorage

out, rows, cols, bits, signed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5] == "1"
modality = sys.argv[6] if len(sys.argv) > 6 else "OT"
allocated = 8 if bits <= 8 else 16
rng = np.random.default_rng(1234)
y, x = np.mgrid[0:rows, 0:cols]
lo, hi = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
img = lo + (x + y) / (rows + cols - 2) * (hi - lo) * 0.8
img[(x - cols / 2) ** 2 + (y - rows / 2) ** 2 < (min(rows, cols) / 4) ** 2] = hi
img = img + rng.normal(0, (hi - lo) * 0.01, img.shape)
img = np.clip(np.round(img), lo, hi)
dtype = {(8, False): np.uint8, (8, True): np.int8, (16, False): np.uint16, (16, True): np.int16}[(allocated, signed)]
pixels = img.astype(dtype)

meta = FileMetaDataset()
meta.MediaStorageSOPClassUID = SecondaryCaptureImageStorage
meta.MediaStorageSOPInstanceUID = generate_uid()
meta.TransferSyntaxUID = ExplicitVRLittleEndian
ds = Dataset()
ds.file_meta = meta
ds.SOPClassUID = meta.MediaStorageSOPClassUID
ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
ds.StudyInstanceUID = generate_uid()
ds.SeriesInstanceUID = generate_uid()
ds.Modality = modality
ds.PatientName = "TEST^FIXTURE"
ds.PatientID = "FIXTURE-1"
ds.Rows, ds.Columns = rows, cols
ds.SamplesPerPixel = 1
ds.PhotometricInterpretation = "MONOCHROME2"
ds.BitsAllocated, ds.BitsStored, ds.HighBit = allocated, bits, bits - 1
ds.PixelRepresentation = 1 if signed else 0
ds.PixelData = pixels.tobytes()
ds.is_little_endian, ds.is_implicit_VR = True, False
ds.save_as(out, write_like_original=False)
