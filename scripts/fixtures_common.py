"""Helpers shared by the fixture generators (scripts/gen-fixtures*.py)."""
import math

import numpy as np


def enc(values, f32=False):
    """JSON-safe numbers: NaN/Infinity as strings; f32 stores the shortest decimal that round-trips
    through float32 (Math.fround restores the exact input)."""
    out = []
    for v in values:
        v = float(v)
        if math.isnan(v):
            out.append('NaN')
        elif math.isinf(v):
            out.append('Infinity' if v > 0 else '-Infinity')
        else:
            out.append(float(repr(np.float32(v))) if f32 else v)
    return out
