"""The transposed convolutions of well-known architectures, each named by architecture and layer.

Each entry of ``LAYERS`` is one layer as its model's code calls the framework (``ConvTranspose1d/2d/3d``,
``F.conv_transpose2d``, Caffe's ``Deconvolution``): its real channel counts, kernel, stride, padding,
output_padding, groups and bias, with the paper or reference implementation it comes from beside it.
What the model does after the call (a crop, a trim, a blur) is said in the entry's note, not encoded:
the case is the framework call. Each layer is asked in float32, float16 and bfloat16 (``DTYPES``).

Spatial sizes are the model's own where a case stays under about 0.5 s on the slowest adapter (the pure
NumPy ``onnx-reference``); where one would not, the input is cut down (never the channels), and the entry
says from what. ``python -m conformance run --case <id>`` runs any of them; ``name_of(case_id)`` names the
layer back for the report.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field

from conformance.case import Case

DTYPES = ("float32", "float16", "bfloat16")


@dataclass(frozen=True)
class Layer:
    """One model's transposed convolution: ``fields`` are the Case's (all but dtype), at the input size the
    suite runs; ``model_input_size`` is the input the model itself gives the layer (the architecture's
    facts, ``problems()``, are checked at that size); ``source`` is the paper or reference implementation
    (file and class, or config) it comes from; ``note`` what the model does around the call."""

    name: str
    source: str
    model_input_size: tuple[int, ...]
    fields: dict = field(hash=False)
    note: str = ""

    def case(self, dtype: str) -> Case:
        return Case(**self.fields, dtype=dtype)

    def at_model_size(self) -> Case:
        """The same layer at the model's own input size (float32): what the architecture's facts speak of."""
        return Case(**{**self.fields, "input_size": self.model_input_size}, dtype="float32")


# DCGAN's generator, pytorch/examples (nz=100, ngf=64, nc=3; batch 64 there): every layer is
# ConvTranspose2d(..., bias=False) followed by BatchNorm2d and ReLU (Tanh after the last).
_DCGAN = "https://github.com/pytorch/examples/blob/main/dcgan/main.py (class Generator, self.main)"
# U-Net's decoder as milesial/Pytorch-UNet builds it with bilinear=False: Up(in, out) makes
# nn.ConvTranspose2d(in, in // 2, kernel_size=2, stride=2) (bias: the default, True); Up(1024, 512),
# Up(512, 256), Up(256, 128), Up(128, 64) in unet_model.py. Sizes: the paper's (Ronneberger et al. 2015,
# https://arxiv.org/abs/1505.04597, Fig. 1: a 572x572 tile, 28x28 at the bottom, 52, 100, 196 after each up
# step's valid convolutions).
_UNET = "https://github.com/milesial/Pytorch-UNet/blob/master/unet/unet_parts.py (class Up, bilinear=False)"
# FCN (Long, Shelhamer, Darrell 2015): Caffe Deconvolution with bias_term=False, 21 PASCAL VOC classes in and
# out, no pad (a Crop layer cuts the output back to the image afterwards). A 500x500 image with conv1_1's
# pad=100 gives a 16x16 score_fr.
_FCN32 = "https://github.com/shelhamer/fcn.berkeleyvision.org/blob/master/voc-fcn32s/net.py (n.upscore)"
_FCN8 = (
    "https://github.com/shelhamer/fcn.berkeleyvision.org/blob/master/voc-fcn8s/net.py "
    "(n.upscore2, n.upscore_pool4, n.upscore8)"
)
# V-Net (Milletari et al. 2016), mattmacy/vnet.pytorch: UpTransition(inChans, outChans) makes
# nn.ConvTranspose3d(inChans, outChans // 2, kernel_size=2, stride=2) (bias True); VNet builds
# UpTransition(256, 256), (256, 128), (128, 64), (64, 32). The paper's volume is 128x128x64, 8x8x4 at the
# bottom.
_VNET = "https://github.com/mattmacy/vnet.pytorch/blob/master/vnet.py (class UpTransition, class VNet)"
# HiFi-GAN V1 (Kong et al. 2020), jik876/hifi-gan: ups[i] = weight_norm(ConvTranspose1d(
# upsample_initial_channel // 2**i, upsample_initial_channel // 2**(i+1), k, u, padding=(k-u)//2)) with
# config_v1.json's upsample_rates [8,8,2,2], upsample_kernel_sizes [16,16,4,4], upsample_initial_channel
# 512; hop_size 256; training segments of 8192 samples = 32 mel frames. weight_norm reparametrizes the
# weight only: the call is a plain ConvTranspose1d with bias.
_HIFIGAN = "https://github.com/jik876/hifi-gan/blob/master/models.py (Generator.__init__, self.ups) and config_v1.json"
# EnCodec (Defossez et al. 2022), the 24 kHz model (causal=True): SEANetDecoder(ratios=[8,5,4,2],
# n_filters=32) makes SConvTranspose1d(mult * n_filters, mult * n_filters // 2, kernel_size=2 * ratio,
# stride=ratio) with mult = 16, 8, 4, 2. SConvTranspose1d calls nn.ConvTranspose1d with no padding and then
# trims padding_total = kernel - stride samples by slicing (unpad1d): all on the right in the causal model
# (trim_right_ratio=1.0), padding_total // 2 on the right and the rest on the left otherwise. One second
# of audio is 75 frames (hop 320).
_ENCODEC = (
    "https://github.com/facebookresearch/encodec/blob/main/encodec/modules/seanet.py (SEANetDecoder) and "
    "encodec/modules/conv.py (SConvTranspose1d.forward)"
)
# StyleGAN2's modulated convolution with upsampling (Karras et al. 2020), fused into one grouped transposed
# convolution: the batch is folded into the channels (input viewed as (1, batch * in_channel, H, W)), each
# sample's modulated weight is its own group, and F.conv_transpose2d(input, weight, padding=0, stride=2,
# groups=batch) runs it, with no bias (FusedLeakyReLU adds it later); a 4x4 blur follows. Kernel 3,
# channel_multiplier 2: 512 channels up to 32x32, 512 at 64, 256 at 128, 128 at 256, 64 at 512, 32 at 1024.
_STYLEGAN2 = "https://github.com/rosinality/stylegan2-pytorch/blob/master/model.py (ModulatedConv2d.forward, upsample)"
# A depthwise transposed convolution: CenterNet's DLA-34 (Zhou et al. 2019) upsamples in IDAUp with
# nn.ConvTranspose2d(o, o, f * 2, stride=f, padding=f // 2, output_padding=0, groups=o, bias=False)
# (weights filled bilinear); a 512x512 image at output stride 4.
_CENTERNET = (
    "https://github.com/xingyizhou/CenterNet/blob/master/src/lib/models/networks/pose_dla_dcn.py "
    "(class IDAUp, class DLAUp, class DLASeg)"
)


# The cost that sets the sizes: onnx-reference (onnx.reference's ConvTranspose) scatters every input
# position's column in a Python loop (col2im_naive_implementation): about 5-15 us per
# batch x C_out x kernel tap x input position, whatever the channels in, so a case of 30,000-50,000 of them
# takes about 0.5 s there (float16 the slowest), while every other CPU adapter computes these layers in
# milliseconds. The input below is the model's own where that product stays within it, and cut down per axis
# (never the channels) where not; the model's own size is kept beside it (``model_input_size``), where the
# architecture's facts are checked. fcn32s.upscore is over budget even at 1x1 (see its note).
def _layer(name, source, note, model, size=None, **fields) -> Layer:
    return Layer(name, source, tuple(model), {"input_size": tuple(size or model), **fields}, note)


LAYERS: tuple[Layer, ...] = (
    # DCGAN: z (100x1x1) -> 512x4x4 -> 256x8x8 -> 128x16x16 -> 64x32x32 -> 3x64x64 (batch 1 here).
    _layer(
        "dcgan.generator.project",
        _DCGAN,
        "main[0]: ConvTranspose2d(nz, ngf*8, 4, 1, 0, bias=False)",
        (1, 1),
        in_channels=100,
        out_channels=512,
        kernel=4,
        stride=1,
    ),
    _layer(
        "dcgan.generator.up1",
        _DCGAN,
        "main[3]: ConvTranspose2d(ngf*8, ngf*4, 4, 2, 1, bias=False)",
        (4, 4),
        (2, 2),
        in_channels=512,
        out_channels=256,
        kernel=4,
        stride=2,
        padding=1,
    ),
    _layer(
        "dcgan.generator.up2",
        _DCGAN,
        "main[6]: ConvTranspose2d(ngf*4, ngf*2, 4, 2, 1, bias=False)",
        (8, 8),
        (4, 4),
        in_channels=256,
        out_channels=128,
        kernel=4,
        stride=2,
        padding=1,
    ),
    _layer(
        "dcgan.generator.up3",
        _DCGAN,
        "main[9]: ConvTranspose2d(ngf*2, ngf, 4, 2, 1, bias=False)",
        (16, 16),
        (6, 6),
        in_channels=128,
        out_channels=64,
        kernel=4,
        stride=2,
        padding=1,
    ),
    _layer(
        "dcgan.generator.up4",
        _DCGAN,
        "main[12]: ConvTranspose2d(ngf, nc, 4, 2, 1, bias=False); Tanh after",
        (32, 32),
        in_channels=64,
        out_channels=3,
        kernel=4,
        stride=2,
        padding=1,
    ),
    # U-Net decoder, batch 2 (Pytorch-UNet's default batch size is 1; the paper trains on single tiles).
    _layer(
        "unet.up1",
        _UNET,
        "Up(1024, 512)",
        (28, 28),
        (2, 2),
        batch=2,
        in_channels=1024,
        out_channels=512,
        kernel=2,
        stride=2,
        bias=True,
    ),
    _layer(
        "unet.up2",
        _UNET,
        "Up(512, 256)",
        (52, 52),
        (3, 3),
        batch=2,
        in_channels=512,
        out_channels=256,
        kernel=2,
        stride=2,
        bias=True,
    ),
    _layer(
        "unet.up3",
        _UNET,
        "Up(256, 128)",
        (100, 100),
        (6, 6),
        batch=2,
        in_channels=256,
        out_channels=128,
        kernel=2,
        stride=2,
        bias=True,
    ),
    _layer(
        "unet.up4",
        _UNET,
        "Up(128, 64)",
        (196, 196),
        (9, 9),
        batch=2,
        in_channels=128,
        out_channels=64,
        kernel=2,
        stride=2,
        bias=True,
    ),
    # FCN.
    _layer(
        "fcn32s.upscore",
        _FCN32,
        "Deconvolution(num_output=21, kernel_size=64, stride=32, bias_term=False); "
        "crop(upscore, data) then cuts the image out. At 1x1 (no smaller input exists) one case is already "
        "21 x 4096 taps, about 0.8 s on onnx-reference: over the budget, kept for its 64x64 kernel",
        (16, 16),
        (1, 1),
        in_channels=21,
        out_channels=21,
        kernel=64,
        stride=32,
    ),
    _layer(
        "fcn8s.upscore2",
        _FCN8,
        "n.upscore2: Deconvolution(num_output=21, kernel_size=4, stride=2, bias_term=False)",
        (16, 16),
        (9, 9),
        in_channels=21,
        out_channels=21,
        kernel=4,
        stride=2,
    ),
    _layer(
        "fcn8s.upscore_pool4",
        _FCN8,
        "n.upscore_pool4: Deconvolution(num_output=21, kernel_size=4, stride=2, bias_term=False), after fuse_pool4",
        (34, 34),
        (8, 8),
        in_channels=21,
        out_channels=21,
        kernel=4,
        stride=2,
    ),
    _layer(
        "fcn8s.upscore8",
        _FCN8,
        "n.upscore8: Deconvolution(num_output=21, kernel_size=16, stride=8, "
        "bias_term=False); crop(upscore8, data) after it",
        (70, 70),
        (3, 3),
        in_channels=21,
        out_channels=21,
        kernel=16,
        stride=8,
    ),
    # V-Net.
    _layer(
        "vnet.up_tr256",
        _VNET,
        "UpTransition(256, 256).up_conv",
        (8, 8, 4),
        (4, 4, 2),
        in_channels=256,
        out_channels=128,
        kernel=2,
        stride=2,
        bias=True,
    ),
    _layer(
        "vnet.up_tr128",
        _VNET,
        "UpTransition(256, 128).up_conv",
        (16, 16, 8),
        (5, 5, 2),
        in_channels=256,
        out_channels=64,
        kernel=2,
        stride=2,
        bias=True,
    ),
    _layer(
        "vnet.up_tr64",
        _VNET,
        "UpTransition(128, 64).up_conv",
        (32, 32, 16),
        (6, 6, 3),
        in_channels=128,
        out_channels=32,
        kernel=2,
        stride=2,
        bias=True,
    ),
    _layer(
        "vnet.up_tr32",
        _VNET,
        "UpTransition(64, 32).up_conv",
        (64, 64, 32),
        (8, 8, 3),
        in_channels=64,
        out_channels=16,
        kernel=2,
        stride=2,
        bias=True,
    ),
    # HiFi-GAN V1: 32 mel frames -> 256 -> 2048 -> 4096 -> 8192 samples.
    _layer(
        "hifigan.ups.0",
        _HIFIGAN,
        "ConvTranspose1d(512, 256, 16, 8, padding=4)",
        (32,),
        (8,),
        in_channels=512,
        out_channels=256,
        kernel=16,
        stride=8,
        padding=4,
        bias=True,
    ),
    _layer(
        "hifigan.ups.1",
        _HIFIGAN,
        "ConvTranspose1d(256, 128, 16, 8, padding=4)",
        (256,),
        (16,),
        in_channels=256,
        out_channels=128,
        kernel=16,
        stride=8,
        padding=4,
        bias=True,
    ),
    _layer(
        "hifigan.ups.2",
        _HIFIGAN,
        "ConvTranspose1d(128, 64, 4, 2, padding=1)",
        (2048,),
        (192,),
        in_channels=128,
        out_channels=64,
        kernel=4,
        stride=2,
        padding=1,
        bias=True,
    ),
    _layer(
        "hifigan.ups.3",
        _HIFIGAN,
        "ConvTranspose1d(64, 32, 4, 2, padding=1)",
        (4096,),
        (384,),
        in_channels=64,
        out_channels=32,
        kernel=4,
        stride=2,
        padding=1,
        bias=True,
    ),
    # EnCodec 24 kHz decoder: 75 frames (1 s) -> 600 -> 3000 -> 12000 -> 24000 samples, after each trim.
    _layer(
        "encodec.decoder.block0",
        _ENCODEC,
        "ConvTranspose1d(512, 256, 16, 8), no padding; then trims 8 on the right",
        (75,),
        (8,),
        in_channels=512,
        out_channels=256,
        kernel=16,
        stride=8,
        bias=True,
    ),
    _layer(
        "encodec.decoder.block1",
        _ENCODEC,
        "ConvTranspose1d(256, 128, 10, 5), no padding; then trims 5 on the right",
        (600,),
        (24,),
        in_channels=256,
        out_channels=128,
        kernel=10,
        stride=5,
        bias=True,
    ),
    _layer(
        "encodec.decoder.block2",
        _ENCODEC,
        "ConvTranspose1d(128, 64, 8, 4), no padding; then trims 4 on the right",
        (3000,),
        (96,),
        in_channels=128,
        out_channels=64,
        kernel=8,
        stride=4,
        bias=True,
    ),
    _layer(
        "encodec.decoder.block3",
        _ENCODEC,
        "ConvTranspose1d(64, 32, 4, 2), no padding; then trims 2 on the right",
        (12000,),
        (384,),
        in_channels=64,
        out_channels=32,
        kernel=4,
        stride=2,
        bias=True,
    ),
    # StyleGAN2 at batch 2 folded into the channels: one input of 2 x C_in channels, groups = batch = 2.
    _layer(
        "stylegan2.convs.0",
        _STYLEGAN2,
        "StyledConv(512, 512, 3, upsample=True): 4x4 -> 9x9, then the blur",
        (4, 4),
        (1, 2),
        in_channels=1024,
        out_channels=1024,
        groups=2,
        kernel=3,
        stride=2,
    ),
    _layer(
        "stylegan2.convs.14",
        _STYLEGAN2,
        "StyledConv(64, 32, 3, upsample=True): 512x512 -> 1025x1025, then the blur",
        (512, 512),
        (9, 9),
        in_channels=128,
        out_channels=64,
        groups=2,
        kernel=3,
        stride=2,
    ),
    # CenterNet DLA-34, depthwise (groups = channels, one output channel per group).
    _layer(
        "centernet.dla_up.ida_0.up_1",
        _CENTERNET,
        "IDAUp(256, [256, 512], [1, 2]).up_1: f = 2, at output stride 32",
        (16, 16),
        (3, 3),
        in_channels=256,
        out_channels=256,
        groups=256,
        kernel=4,
        stride=2,
        padding=1,
    ),
    _layer(
        "centernet.ida_up.up_2",
        _CENTERNET,
        "IDAUp(64, [64, 128, 256], [1, 2, 4]).up_2: f = 4, at output stride 16",
        (32, 32),
        (3, 3),
        in_channels=64,
        out_channels=64,
        groups=64,
        kernel=8,
        stride=4,
        padding=2,
    ),
)

# The smoke profile's few, cheap and between them 1-D, 2-D and 3-D, padding, bias and a depthwise grouping.
# (StyleGAN2's grouped layer is left to default and full: onnx-reference 1.23 refuses groups with several
# output channels each, and the register's entry for it names only 2 to 6 per group.)
SMOKE = ("dcgan.generator.up1", "hifigan.ups.0", "vnet.up_tr256", "centernet.ida_up.up_2")


def layer(name: str) -> Layer:
    """The declared layer of that name."""
    found = _by_name().get(name)
    if found is None:
        raise ValueError(f"no model layer named {name!r}")
    return found


@functools.cache
def _by_name() -> dict[str, Layer]:
    return {entry.name: entry for entry in LAYERS}


@functools.cache
def _names_by_id() -> dict[str, str]:
    return {entry.case(dtype).id: entry.name for entry in LAYERS for dtype in DTYPES}


def name_of(case_id: str) -> str | None:
    """The model layer a case id is (``"dcgan.generator.up1"``), or None when it is no model layer's."""
    return _names_by_id().get(case_id)


def cases(profile_name: str) -> list[Case]:
    """The model cases of a profile: the ``SMOKE`` layers in smoke, every layer otherwise; each in ``DTYPES``."""
    chosen = [layer(name) for name in SMOKE] if profile_name == "smoke" else LAYERS
    return [entry.case(dtype) for entry in chosen for dtype in DTYPES]


# The architectures' own facts, checked on the table at the models' input sizes (``problems``).
HIFIGAN_V1 = {
    "upsample_rates": (8, 8, 2, 2),
    "upsample_kernel_sizes": (16, 16, 4, 4),
    "initial_channel": 512,
    "hop_size": 256,
}  # config_v1.json
ENCODEC_24KHZ = {"ratios": (8, 5, 4, 2), "n_filters": 32, "hop_length": 320}  # SEANetDecoder's defaults


def _spatial(case: Case) -> tuple[int, ...]:
    return case.output_shape[2:]


def _chain(layers, after=lambda case: _spatial(case)) -> list[str]:
    """Each layer takes what the one before gives (``after``: what the model makes of the output), channels too."""
    found = []
    for before, then in zip(layers, layers[1:]):
        given, taken = before.at_model_size(), then.at_model_size()
        if after(given) != taken.input_size:
            found.append(f"{then.name}: its input {taken.input_size} is not {before.name}'s output {after(given)}")
        if given.out_channels != taken.in_channels and not then.name.startswith(("unet", "vnet")):
            found.append(f"{then.name}: {taken.in_channels} channels in, {before.name} gives {given.out_channels}")
    return found


def _each(layers, check, message) -> list[str]:
    return [f"{entry.name}: {message}" for entry in layers if not check(entry.at_model_size())]


def _doubles(case: Case) -> bool:
    return _spatial(case) == tuple(2 * n for n in case.input_size)


def problems(layers=LAYERS) -> list[str]:
    """Where the table contradicts the architectures it names: an empty list when every fact holds."""
    family = {}
    for entry in layers:
        family.setdefault(entry.name.split(".")[0], []).append(entry)
    found = []
    for entry in layers:
        case = entry.case("float32")
        if not 1 <= case.batch <= 2:
            found.append(f"{entry.name}: batch {case.batch}, not 1 or 2")
        if any(n > m for n, m in zip(case.input_size, entry.model_input_size)) or case.rank != len(
            entry.model_input_size
        ):
            found.append(f"{entry.name}: input {case.input_size} is not within the model's {entry.model_input_size}")
        if not entry.source.startswith("https://"):
            found.append(f"{entry.name}: no link to its source")
    dcgan = family.get("dcgan", [])
    found += _chain(dcgan)
    found += _each(dcgan[:1], lambda c: _spatial(c) == (4, 4) and c.in_channels == 100, "z must become 4x4")
    found += _each(dcgan[1:], lambda c: c.kernel == (4, 4) and c.stride == (2, 2) and _doubles(c), "k4 s2 p1 doubles")
    found += _each(dcgan, lambda c: not c.bias, "DCGAN's layers have no bias")
    if [e.at_model_size().out_channels for e in dcgan] != [512, 256, 128, 64, 3]:
        found.append("dcgan: the channels must go 512 -> 256 -> 128 -> 64 -> 3")
    # The paper's U-Net follows each up-convolution with two unpadded 3x3 convolutions: 4 fewer per axis.
    found += _chain(family.get("unet", []), after=lambda case: tuple(n - 4 for n in _spatial(case)))
    found += _chain(family.get("vnet", []))
    for name in ("unet", "vnet"):  # ConvTranspose(in, in // 2 or out // 2, kernel_size=2, stride=2) with bias
        group = family.get(name, [])
        found += _each(
            group, lambda c: set(c.kernel) == set(c.stride) == {2} and _doubles(c) and c.bias, "k2 s2 doubles"
        )
    found += _each(family.get("unet", []), lambda c: c.out_channels * 2 == c.in_channels, "halves the channels")
    found += _each(family.get("vnet", []), lambda c: c.rank == 3, "V-Net is 3-D")
    fcn = family.get("fcn32s", []) + family.get("fcn8s", [])
    found += _each(
        fcn, lambda c: c.kernel == tuple(2 * s for s in c.stride) and not any(sum(c.padding, ())), "k = 2s, no pad"
    )
    found += _each(fcn, lambda c: c.in_channels == c.out_channels == 21 and not c.bias, "21 classes, no bias")
    for name, total in (("fcn32s", 32), ("fcn8s", 32)):
        strides = [e.at_model_size().stride[0] for e in family.get(name, [])]
        if strides and math.prod(strides) != total:
            found.append(f"{name}: its upsampling strides {strides} multiply to {math.prod(strides)}, not {total}")
    hifigan = family.get("hifigan", [])
    found += _chain(hifigan)
    found += _each(hifigan, lambda c: c.padding[0] == ((c.kernel[0] - c.stride[0]) // 2,) * 2, "padding (k - u) // 2")
    if hifigan:
        cases_ = [e.at_model_size() for e in hifigan]
        if [c.stride[0] for c in cases_] != list(HIFIGAN_V1["upsample_rates"]) or [c.kernel[0] for c in cases_] != list(
            HIFIGAN_V1["upsample_kernel_sizes"]
        ):
            found.append("hifigan: strides and kernels are not config_v1's")
        if math.prod(c.stride[0] for c in cases_) != HIFIGAN_V1["hop_size"]:
            found.append(f"hifigan: the upsampling product is not the hop size {HIFIGAN_V1['hop_size']}")
        if _spatial(cases_[-1])[0] != cases_[0].input_size[0] * HIFIGAN_V1["hop_size"]:
            found.append("hifigan: the last layer's output is not hop size x the mel frames")
        if cases_[0].in_channels != HIFIGAN_V1["initial_channel"]:
            found.append("hifigan: the first layer takes upsample_initial_channel")
    encodec = family.get("encodec", [])

    def trimmed(case):  # SConvTranspose1d trims kernel - stride samples after the call
        return (_spatial(case)[0] - (case.kernel[0] - case.stride[0]),)

    found += _chain(encodec, after=trimmed)
    found += _each(
        encodec, lambda c: c.kernel[0] == 2 * c.stride[0] and c.padding == ((0, 0),), "kernel 2 x stride, no pad"
    )
    found += _each(
        encodec, lambda c: c.output_padding == (0,) and trimmed(c)[0] == c.stride[0] * c.input_size[0], "x stride"
    )
    if encodec:
        strides = tuple(e.at_model_size().stride[0] for e in encodec)
        if strides != ENCODEC_24KHZ["ratios"] or math.prod(strides) != ENCODEC_24KHZ["hop_length"]:
            found.append(f"encodec: strides {strides} are not the ratios {ENCODEC_24KHZ['ratios']} (product 320)")
        channels = [e.at_model_size().out_channels for e in encodec]
        if channels[-1] != ENCODEC_24KHZ["n_filters"]:
            found.append("encodec: the last block must give n_filters channels")
    stylegan = family.get("stylegan2", [])
    found += _each(
        stylegan, lambda c: c.batch == 1 and c.groups == 2 and c.kernel == (3, 3), "batch 2 folded: groups = 2, k3"
    )
    found += _each(
        stylegan,
        lambda c: c.stride == (2, 2) and not c.bias and _spatial(c) == tuple(2 * n + 1 for n in c.input_size),
        "stride 2, padding 0, no bias: 2n + 1",
    )
    depthwise = family.get("centernet", [])
    found += _each(depthwise, lambda c: c.groups == c.in_channels == c.out_channels, "depthwise")
    found += _each(
        depthwise, lambda c: c.padding[0] == (c.stride[0] // 2,) * 2 and c.kernel[0] == 2 * c.stride[0], "f*2, f, f//2"
    )
    found += _each(
        depthwise, lambda c: _spatial(c) == tuple(c.stride[0] * n for n in c.input_size) and not c.bias, "x f"
    )
    return found
