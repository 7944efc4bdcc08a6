"""Float64 NumPy reference for transposed convolution: the suite's oracle. Imports numpy only."""

from reference.api import conv_transpose, conv_transpose_vjp, output_shape

__all__ = ["conv_transpose", "conv_transpose_vjp", "output_shape"]
