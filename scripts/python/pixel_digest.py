#!/usr/bin/python3
"""Independent reference: pydicom's pixel_array of frame 1 (native syntaxes only) as JSON."""
import hashlib, json, sys
import pydicom

ds = pydicom.dcmread(sys.argv[1])
arr = ds.pixel_array
if getattr(ds, "NumberOfFrames", 1) and int(getattr(ds, "NumberOfFrames", 1)) > 1:
    arr = arr[0]
le = arr.astype(arr.dtype.newbyteorder("<"))
print(json.dumps({"dtype": str(arr.dtype), "shape": list(arr.shape), "sha256": hashlib.sha256(le.tobytes()).hexdigest(),
                  "min": int(arr.min()), "max": int(arr.max())}))
