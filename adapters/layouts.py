"""Layout moves between the canonical channels-first arrays and the channels-last ones that
TensorFlow, Keras and JAX take by default. Moves only: no value is touched."""

from __future__ import annotations

import numpy as np


def channels_last(x: np.ndarray) -> np.ndarray:
    """(N, C, *spatial) -> (N, *spatial, C)."""
    return np.ascontiguousarray(np.moveaxis(x, 1, -1))


def channels_first(y: np.ndarray) -> np.ndarray:
    """(N, *spatial, C) -> (N, C, *spatial)."""
    return np.ascontiguousarray(np.moveaxis(y, -1, 1))


def spatial_out_in_axes(rank: int) -> tuple[int, ...]:
    """The transpose axes taking (C_in, C_out, *k) to (*k, C_out, C_in); repro snippets spell them out."""
    return (*range(2, 2 + rank), 1, 0)


def spatial_out_in(w: np.ndarray) -> np.ndarray:
    """The canonical weight (C_in, C_out, *k) as (*k, C_out, C_in): Keras's and tf.nn's transposed-
    convolution kernel, and jax.lax.conv_transpose's HWIO kernel under transpose_kernel=True."""
    return np.ascontiguousarray(np.transpose(w, spatial_out_in_axes(w.ndim - 2)))
