"""``python -m reference``: the textbook examples of docs/conventions.md, computed and checked."""

from __future__ import annotations

import sys

import numpy as np

from reference import conv_transpose

X = np.array([[[[0.0, 1.0], [2.0, 3.0]]]])
K = np.array([[[[0.0, 1.0], [2.0, 3.0]]]])
EXAMPLES = [
    ("stride 1, padding 0", {}, [[0, 0, 1], [0, 4, 6], [4, 12, 9]]),
    ("stride 1, padding 1", {"padding": 1}, [[4]]),
    ("stride 2, padding 0", {"stride": 2}, [[0, 0, 0, 1], [0, 0, 2, 3], [0, 2, 0, 3], [4, 6, 6, 9]]),
]


def main() -> int:
    print("X = [[0, 1], [2, 3]], K = [[0, 1], [2, 3]] (one channel, no bias)")
    failures = 0
    for title, params, expected in EXAMPLES:
        out = conv_transpose(X, K, **params)[0, 0]
        ok = np.array_equal(out, np.array(expected, dtype=float))
        failures += not ok
        print(f"\n{title}: {'matches the textbook' if ok else 'DIFFERS from the textbook ' + str(expected)}")
        print(np.array2string(out.astype(int)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
