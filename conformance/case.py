"""The canonical case: one transposed convolution, in the suite's single convention (docs/conventions.md).

Channels-first input ``(N, C_in, *spatial)``, weight ``(C_in, C_out // groups, *kernel)``, padding as
forward-convolution ``(begin, end)`` crops per axis, output_padding appended at the end.
"""

from __future__ import annotations

import functools
import hashlib
import re
from dataclasses import dataclass, fields

import numpy as np

from conformance import invalid, modes
from reference.geometry import Geometry, geometry, padding_pairs, per_axis

# Short codes used in ids, keyed by NumPy dtype name.
DTYPE_CODES = {"float64": "f64", "float32": "f32", "float16": "f16", "bfloat16": "bf16"}
_DTYPES_BY_CODE = {code: name for name, code in DTYPE_CODES.items()}

ID_PATTERN = re.compile(
    r"^(?P<rank>[123])d"
    r"-n(?P<batch>\d+)"
    r"-ci(?P<in_channels>\d+)"
    r"-co(?P<out_channels>\d+)"
    r"-i(?P<input_size>\d+(?:x\d+)*)"
    r"-g(?P<groups>\d+)"
    r"-k(?P<kernel>\d+(?:x\d+)*)"
    r"-s(?P<stride>\d+(?:x\d+)*)"
    r"-p(?P<padding>-?\d+\.-?\d+(?:x-?\d+\.-?\d+)*)"
    r"-op(?P<output_padding>\d+(?:x\d+)*)"
    r"-d(?P<dilation>\d+(?:x\d+)*)"
    r"-(?P<bias>b|nb)"
    r"-(?P<dtype>" + "|".join(_DTYPES_BY_CODE) + r")"
    r"(?:-m(?P<mode>[a-z0-9_]+))?"
    r"(?:-x(?P<violates>[a-z_]+))?"
    r"(?:-(?P<direction>bwd))?$"
)
# The passes a case can ask for: the output (forward), or the gradients of a loss through it (backward).
DIRECTIONS = ("forward", "backward")


def numpy_dtype(name: str) -> np.dtype:
    """The NumPy dtype for a case dtype name; bfloat16 comes from ml_dtypes."""
    if name == "bfloat16":
        try:
            import ml_dtypes
        except ImportError as error:
            raise RuntimeError("dtype bfloat16 needs the ml_dtypes package") from error
        return np.dtype(ml_dtypes.bfloat16)
    return np.dtype(name)


def _ints(text: str) -> tuple[int, ...]:
    return tuple(int(v) for v in text.split("x"))


def _joined(values) -> str:
    return "x".join(str(v) for v in values)


@dataclass(frozen=True)
class Case:
    """One transposed convolution to run everywhere. Validated at construction; ``id`` is stable.

    Per-axis fields accept the reference's argument forms (an int for every axis, one int per axis,
    or for padding one (begin, end) pair per axis) and are stored as tuples; the rank comes from
    ``input_size``.
    """

    input_size: tuple[int, ...]
    kernel: tuple[int, ...]
    batch: int = 1
    in_channels: int = 1
    out_channels: int = 1
    groups: int = 1
    stride: tuple[int, ...] = 1
    padding: tuple[tuple[int, int], ...] = 0
    output_padding: tuple[int, ...] = 0
    dilation: tuple[int, ...] = 1
    bias: bool = False
    dtype: str = "float64"
    mode: str = modes.EXPLICIT
    violates: str = ""  # a must-reject case: the rule (conformance.invalid.RULES) it breaks
    direction: str = "forward"  # backward: dx, dw and db of <dy, y> for an upstream gradient dy (DIRECTIONS)

    def __post_init__(self):
        if isinstance(self.input_size, int) or not 1 <= len(self.input_size) <= 3:
            raise ValueError(f"input_size needs one int per spatial axis (1, 2 or 3 axes), got {self.input_size!r}")
        rank = len(self.input_size)
        object.__setattr__(self, "input_size", per_axis("input_size", self.input_size, rank))
        for name in ("kernel", "stride", "output_padding", "dilation"):
            object.__setattr__(self, name, per_axis(name, getattr(self, name), rank))
        object.__setattr__(self, "padding", padding_pairs(self.padding, rank))
        if self.direction not in DIRECTIONS:
            raise ValueError(f"direction must be one of {DIRECTIONS}, got {self.direction!r}")
        if self.violates and self.direction != "forward":
            raise ValueError("a must-reject case asks for the forward pass only: it must be refused before any")
        if self.violates:
            self._check_invalid()
            return
        self._apply_mode()
        if self.out_channels < 1 or self.out_channels % max(self.groups, 1):
            raise ValueError(
                f"out_channels ({self.out_channels}) must be a positive multiple of groups ({self.groups})"
            )
        if self.dtype not in DTYPE_CODES:
            raise ValueError(f"dtype must be one of {sorted(DTYPE_CODES)}, got {self.dtype!r}")
        if not isinstance(self.bias, bool):
            raise ValueError(f"bias must be True or False, got {self.bias!r}")
        # The reference's own rules, with the reference's messages; kept because shapes derive from it.
        object.__setattr__(
            self,
            "_geometry",
            geometry(self.input_shape, self.weight_shape, **self.conv_params()),
        )

    def _check_invalid(self) -> None:
        """A must-reject case keeps its literal fields; it must break the rule it names, and nothing
        else stands in the way of telling a framework those arguments."""
        if self.dtype not in DTYPE_CODES:
            raise ValueError(f"dtype must be one of {sorted(DTYPE_CODES)}, got {self.dtype!r}")
        if self.groups < 1 or self.out_channels < 1 or self.out_channels % self.groups:
            raise ValueError(
                f"out_channels ({self.out_channels}) must be a positive multiple of groups ({self.groups})"
            )
        # The arithmetic alone, unvalidated: what a framework that took the arguments literally would give.
        literal = Geometry(
            self.rank,
            self.batch,
            self.in_channels,
            self.out_channels,
            self.groups,
            self.input_size,
            self.kernel,
            self.stride,
            self.padding,
            self.output_padding,
            self.dilation,
        )
        object.__setattr__(self, "_geometry", literal)
        invalid.check(self)

    def _apply_mode(self) -> None:
        """A framework mode fixes padding and output_padding to its documented meaning."""
        mode = modes.parse(self.mode, self.rank)
        if mode.token in modes.FREE_PADS:
            modes.check_free_pads(mode, self.padding, self.output_padding, self.stride)
            return
        padding, output_padding = modes.meaning(mode, self.input_size, self.kernel, self.stride, self.dilation)
        given = modes.normal_form(self.padding, self.output_padding)
        untouched = not any(self.output_padding) and not any(p for pair in self.padding for p in pair)
        if not untouched and given != (padding, output_padding):
            raise ValueError(
                f"mode {self.mode!r} means padding {padding} and output_padding {output_padding}; "
                f"got padding {self.padding} and output_padding {self.output_padding} (leave them out)"
            )
        object.__setattr__(self, "padding", padding)
        object.__setattr__(self, "output_padding", output_padding)

    @property
    def mode_spec(self) -> modes.Mode:
        return modes.parse(self.mode, self.rank)

    @property
    def rank(self) -> int:
        return len(self.input_size)

    @property
    def input_shape(self) -> tuple[int, ...]:
        return (self.batch, self.in_channels, *self.input_size)

    @property
    def weight_shape(self) -> tuple[int, ...]:
        weight_in = self.in_channels + (1 if self.violates == "weight_channels" else 0)
        return (weight_in, self.out_channels // max(self.groups, 1), *self.kernel)

    @property
    def geometry(self) -> Geometry:
        return self._geometry

    @property
    def output_shape(self) -> tuple[int, ...]:
        return self.geometry.output_shape

    @functools.cached_property  # computed once: a run asks for it several times per record
    def id(self) -> str:
        pads = "x".join(f"{begin}.{end}" for begin, end in self.padding)
        return "-".join(
            [
                f"{self.rank}d",
                f"n{self.batch}",
                f"ci{self.in_channels}",
                f"co{self.out_channels}",
                f"i{_joined(self.input_size)}",
                f"g{self.groups}",
                f"k{_joined(self.kernel)}",
                f"s{_joined(self.stride)}",
                f"p{pads}",
                f"op{_joined(self.output_padding)}",
                f"d{_joined(self.dilation)}",
                "b" if self.bias else "nb",
                DTYPE_CODES[self.dtype],
            ]
            + ([] if self.mode == modes.EXPLICIT else [f"m{self.mode}"])
            + ([f"x{self.violates}"] if self.violates else [])
            + (["bwd"] if self.direction == "backward" else [])
        )

    @classmethod
    @functools.lru_cache(maxsize=1 << 16)  # cases are immutable; reports parse each id once per adapter
    def from_id(cls, case_id: str) -> Case:
        match = ID_PATTERN.match(case_id)
        if match is None:
            raise ValueError(f"not a case id: {case_id!r}")
        fields = match.groupdict()
        case = cls(
            batch=int(fields["batch"]),
            in_channels=int(fields["in_channels"]),
            out_channels=int(fields["out_channels"]),
            input_size=_ints(fields["input_size"]),
            kernel=_ints(fields["kernel"]),
            stride=_ints(fields["stride"]),
            padding=tuple(_ints(pair.replace(".", "x")) for pair in fields["padding"].split("x")),
            output_padding=_ints(fields["output_padding"]),
            dilation=_ints(fields["dilation"]),
            groups=int(fields["groups"]),
            bias=fields["bias"] == "b",
            dtype=_DTYPES_BY_CODE[fields["dtype"]],
            mode=fields["mode"] or modes.EXPLICIT,
            violates=fields["violates"] or "",
            direction="backward" if fields["direction"] else "forward",
        )
        if case.rank != int(fields["rank"]):
            raise ValueError(f"case id {case_id!r} says {fields['rank']}d but has {case.rank} spatial axes")
        if case.id != case_id:
            raise ValueError(f"case id {case_id!r} is not canonical; its case's id is {case.id!r}")
        return case

    def conv_params(self) -> dict:
        """The keyword arguments of ``reference.conv_transpose`` for this case."""
        return dict(
            stride=self.stride,
            padding=self.padding,
            output_padding=self.output_padding,
            dilation=self.dilation,
            groups=self.groups,
        )

    def fields(self) -> dict:
        """The case as plain JSON-ready data (tuples become lists)."""
        return {field.name: _plain(getattr(self, field.name)) for field in fields(self)}


def _plain(value):
    """Tuples, nested or not, as lists (what ``dataclasses.asdict`` gives, without its deep copy)."""
    return [_plain(item) for item in value] if isinstance(value, tuple) else value


def seed_of(case: Case) -> int:
    """A seed derived from the id alone, so every machine draws the same inputs for the same case."""
    return int.from_bytes(hashlib.sha256(case.id.encode()).digest()[:8], "little")


def make_inputs(case: Case) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Deterministic x, w, bias in the case's dtype and canonical layout.

    Uniform in [-1, 1) (weights scaled by 1/sqrt(fan-in)), so values are random and asymmetric and
    every output stays far below float16's limit. Drawn in float64 and rounded once to the dtype:
    the reference then computes on exactly the values the framework sees.
    """
    return _drawn(case)[1:]


def _drawn(case: Case) -> tuple:
    """The id-seeded stream and the x, w, bias drawn from it (the stream goes on for dy)."""
    rng = np.random.default_rng(seed_of(case))
    fan_in = max(1, case.in_channels // case.groups * int(np.prod(case.kernel)))  # must-reject cases: >= 1
    dtype = numpy_dtype(case.dtype)
    x = rng.uniform(-1.0, 1.0, case.input_shape).astype(dtype)
    w = (rng.uniform(-1.0, 1.0, case.weight_shape) / np.sqrt(fan_in)).astype(dtype)
    bias = rng.uniform(-0.5, 0.5, case.out_channels).astype(dtype) if case.bias else None
    return rng, x, w, bias


def make_upstream(case: Case) -> np.ndarray:
    """Deterministic dy for a backward case: shaped like the output, uniform in [-1, 1), in the case's dtype,
    drawn after x, w and bias from the same id-seeded stream."""
    rng = _drawn(case)[0]
    return rng.uniform(-1.0, 1.0, case.output_shape).astype(numpy_dtype(case.dtype))


@functools.lru_cache(maxsize=4096)
def shared_upstream(case: Case) -> np.ndarray:
    """``make_upstream``, drawn once per backward case and read-only, as ``shared_inputs``."""
    array = make_upstream(case)
    array.flags.writeable = False
    return array


@functools.lru_cache(maxsize=4096)
def shared_inputs(case: Case) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """``make_inputs``, drawn once per case for the reference and every adapter of a run, and read-only
    so that no one can change what the others see."""
    arrays = make_inputs(case)
    for array in arrays:
        if array is not None:
            array.flags.writeable = False
    return arrays
