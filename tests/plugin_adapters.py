"""Third-party adapters, as a vendor would write them: only ``name`` and ``run`` (plus planted faults).

Each computes with the reference (standing in for a vendor's kernel) and then breaks one thing, so
the suite's tests can prove that every kind of fault is caught and recorded as what it is.
"""

from __future__ import annotations

import os
import time

import numpy as np

from reference import conv_transpose


def _compute(case, x, w, bias):
    return conv_transpose(x, w, bias, **case.conv_params()).astype(x.dtype)


class Correct:
    name = "vendor-correct"

    def run(self, case, x, w, bias):
        return _compute(case, x, w, bias)


class FlippedKernel:
    """Forgets that transposed convolution scatters: uses the spatially flipped kernel."""

    name = "vendor-flipped"

    def run(self, case, x, w, bias):
        flipped = w[(slice(None), slice(None), *(slice(None, None, -1),) * case.rank)]
        return _compute(case, x, np.ascontiguousarray(flipped), bias)


class DropsLastRow:
    name = "vendor-short"

    def run(self, case, x, w, bias):
        return _compute(case, x, w, bias)[..., :-1]


class NaNs:
    name = "vendor-nan"

    def run(self, case, x, w, bias):
        out = _compute(case, x, w, bias)
        out.reshape(-1)[0] = np.nan
        return out


class Crashes:
    """Dies on 2-D cases, works on the others."""

    name = "vendor-crash"

    def run(self, case, x, w, bias):
        if case.rank == 2:
            os._exit(3)
        return _compute(case, x, w, bias)


class Hangs:
    name = "vendor-hang"

    def run(self, case, x, w, bias):
        time.sleep(30)


instance = Correct()  # an adapter may also be given as a ready instance
