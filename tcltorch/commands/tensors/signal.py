"""Signal processing: FFTs, the short-time Fourier transform, windows, the analytic
signal, spectrograms, mel filter banks, MFCCs, time stretching and pitch shifting, and
the parts of complex tensors.  The audio maths is in :mod:`tcltorch.signal`.

Complex results are complex64/complex128 tensors; ``torch::tensor_to_list`` shows each
element as a ``{re im}`` pair."""

from __future__ import annotations

from typing import Any

import torch

from tcltorch import signal as S
from tcltorch.commands.spec import (
    Bool,
    Choice,
    Command,
    Custom,
    Device,
    Double,
    DType,
    Handle,
    Int,
    IntList,
    Opt,
    command,
    is_option_word,
    parse_tcl_double,
)
from tcltorch.commands.vocabulary import _dim, _input, names_handles
from tcltorch.errors import invalid_value

FAMILY = "tensors/signal"

_NORM = Choice("backward", "forward", "ortho")


def _norm() -> Opt:
    return Opt(
        "norm", _NORM, default="backward", help="scaling: backward (1/n on the inverse), forward, ortho"
    )


def _n() -> Opt:
    return Opt("n", Int(ge=1), default=None, help="signal length: the input is cropped or zero-padded to it")


def _check_dim(x: torch.Tensor, dim: int, option: str = "-dim") -> None:
    if x.dim() == 0 or not -x.dim() <= dim < x.dim():
        raise invalid_value(option, str(dim), f"must be a dimension of a {x.dim()}-d tensor")


def _fft1(name: str, fn: Any, with_n: bool, doc: str) -> None:
    def run(input, dim, n=None, norm="backward"):
        _check_dim(input, dim)
        return fn(input, n=n, dim=dim, norm=norm)

    options = (
        [_input("signal tensor handle"), _dim(-1, "dimension to transform")]
        + ([_n()] if with_n else [])
        + [_norm()]
    )
    if name in ("tensor_rfft", "tensor_irfft"):  # the other implementation's order: tensor ?n? ?dim?
        options = [_input("signal tensor handle"), _n(), _dim(-1, "dimension to transform"), _norm()]
    run.__name__ = name
    command(name, *options, doc=doc)(run)


_fft1(
    "tensor_fft",
    torch.fft.fft,
    True,
    """The discrete Fourier transform along one dimension (torch.fft.fft).

## Return Value

A new complex tensor handle.

Examples:
    set x [torch::tensor_create {1 0 0 0}]
    puts [torch::tensor_to_list [torch::tensor_fft $x]]   ;# -> {1.0 0.0} {1.0 0.0} {1.0 0.0} {1.0 0.0}
""",
)


_fft1(
    "tensor_ifft",
    torch.fft.ifft,
    True,
    """The inverse discrete Fourier transform along one dimension (torch.fft.ifft).

## Return Value

A new complex tensor handle.

Examples:
    set x [torch::tensor_create {1 2 3 4} -dtype float64]
    puts [torch::tensor_to_list [torch::tensor_real [torch::tensor_ifft [torch::tensor_fft $x]]]]   ;# -> 1.0 2.0 3.0 4.0
""",
)


_fft1(
    "tensor_rfft",
    torch.fft.rfft,
    True,
    """The FFT of a real signal, keeping the n/2+1 non-negative frequencies (torch.fft.rfft).

## Return Value

A new complex tensor handle.

Examples:
    puts [torch::tensor_to_list [torch::tensor_rfft [torch::tensor_create {1 1 1 1}]]]   ;# -> {4.0 0.0} {0.0 0.0} {0.0 0.0}
""",
)


_fft1(
    "tensor_irfft",
    torch.fft.irfft,
    True,
    """The inverse of tensor_rfft: a real signal of length `-n` (default 2·(m−1)) (torch.fft.irfft).

## Return Value

A new real tensor handle.

Examples:
    set x [torch::tensor_create {1 2 3 4} -dtype float64]
    puts [torch::tensor_to_list [torch::tensor_irfft [torch::tensor_rfft $x] 4]]   ;# -> 1.0 2.0 3.0 4.0
""",
)


def _fft2(name: str, fn: Any, doc: str) -> None:
    def run(input, dims, norm):
        if len(dims) != 2:
            raise invalid_value("-dims", " ".join(map(str, dims)), "must be a list of two dimensions")
        for d in dims:
            _check_dim(input, d, "-dims")
        return fn(input, dim=tuple(dims), norm=norm)

    run.__name__ = name
    command(
        name,
        _input("tensor handle with at least two dimensions"),
        Opt(
            "dims",
            IntList(),
            default=(-2, -1),
            default_doc="{-2 -1}",
            help="the two dimensions to transform",
            aliases=("dim",),
        ),
        _norm(),
        doc=doc,
    )(run)


_fft2(
    "tensor_fft2d",
    torch.fft.fft2,
    """The two-dimensional discrete Fourier transform (torch.fft.fft2).

## Return Value

A new complex tensor handle.

Examples:
    set x [torch::ones {2 2}]
    puts [torch::tensor_to_list [torch::tensor_fft2d $x]]   ;# -> {{4.0 0.0} {0.0 0.0}} {{0.0 0.0} {0.0 0.0}}
""",
)


_fft2(
    "tensor_ifft2d",
    torch.fft.ifft2,
    """The inverse two-dimensional discrete Fourier transform (torch.fft.ifft2).

## Return Value

A new complex tensor handle.

Examples:
    set x [torch::tensor_create {{1 2} {3 4}} -dtype float64]
    puts [torch::tensor_to_list [torch::tensor_real [torch::tensor_ifft2d [torch::tensor_fft2d $x]]]]   ;# -> {1.0 2.0} {3.0 4.0}
""",
)


def _shift(name: str, camel: str, fn: Any, doc: str) -> None:
    def run(input, dim):
        if dim is not None:
            _check_dim(input, dim)
        return fn(input, dim=dim)

    run.__name__ = name
    command(name, _input(), _dim(None, "dimension to shift (default: all)"), extra_aliases=(camel,), doc=doc)(
        run
    )


_shift(
    "fftshift",
    "fftShift",
    torch.fft.fftshift,
    """Move the zero-frequency term to the centre (torch.fft.fftshift).

## Return Value

A new tensor handle.

Examples:
    puts [torch::tensor_to_list [torch::fftshift [torch::tensor_create {0 1 2 3 4}]]]   ;# -> 3.0 4.0 0.0 1.0 2.0
""",
)


_shift(
    "ifftshift",
    "ifftShift",
    torch.fft.ifftshift,
    """Undo fftshift: move the centre back to index 0 (torch.fft.ifftshift).

## Return Value

A new tensor handle.

Examples:
    puts [torch::tensor_to_list [torch::ifftshift [torch::tensor_create {3 4 0 1 2}]]]   ;# -> 0.0 1.0 2.0 3.0 4.0
""",
)


@command("hilbert", _input("real signal tensor handle"), _dim(-1, "time dimension"), context=True)
@names_handles
def hilbert(input, dim):
    """The analytic signal x + i·H(x) of a real signal (as scipy.signal.hilbert), computed by FFT.

    Its imaginary part is the Hilbert transform (a cosine gives a sine); its magnitude is the
    envelope. (The other implementation returns only the real part, which is the input.)

    ## Return Value

    A new complex tensor handle.

    Examples:
        set t [torch::tensor_mul [torch::arange 0 8 -dtype float64] [expr {2 * acos(-1) / 8}]]
        set a [torch::hilbert [torch::tensor_cos $t]]
        puts [torch::tensor_to_list [torch::tensor_round [torch::tensor_imag $a] -decimals 6]]   ;# -> 0.0 0.707107 1.0 0.707107 0.0 -0.707107 -1.0 -0.707107
    """
    _check_dim(input, dim)
    if input.is_complex():
        raise invalid_value("-input", "", "must be a real signal")
    return S.hilbert(input if input.is_floating_point() else input.double(), dim)


def _float_dtype(text: str, option: str, ctx: Any) -> torch.dtype:
    dtype = DType().convert(text, option, ctx)
    if not dtype.is_floating_point:
        raise invalid_value(option, text, "must be a floating-point dtype")
    return dtype


FloatDType = Custom(_float_dtype, "dtype", "must be a floating-point dtype")


def _window(name: str, fn: Any, doc: str, beta: bool = False) -> None:
    def run(window_length, dtype, device, periodic, beta=12.0):
        extra = {"beta": beta} if name == "kaiser_window" else {}
        return fn(window_length, periodic=periodic, dtype=dtype, device=device, **extra)

    options = [
        Opt("windowLength", Int(ge=1), help="number of samples", aliases=("window_length", "length")),
        Opt("dtype", FloatDType, default=torch.float32, help="floating-point element type"),
        Opt("device", Device(), default=None, help="cpu or cuda"),
        Opt(
            "periodic",
            Bool(),
            default=True,
            help="1: for spectral analysis (drops the last sample of the "
            "symmetric window of length+1); 0: symmetric",
        ),
    ]
    if beta:
        options.append(Opt("beta", Double(ge=0), default=12.0, help="shape parameter"))
    run.__name__ = name
    command(name, *options, doc=doc, parse_hook=_parse_kaiser if beta else None)(run)


def _parse_kaiser(cmd: Command, ctx: Any, args: tuple[str, ...], invoked: str, parse: Any) -> Any:
    # The other implementation's `kaiser_window N BETA`: a number where the dtype goes is β.
    if (
        len(args) >= 2
        and not is_option_word(args[0], cmd._lookup)
        and not is_option_word(args[1], cmd._lookup)
        and parse_tcl_double(args[1]) is not None
        and (len(args) == 2 or is_option_word(args[2], cmd._lookup))
    ):
        args = (args[0], "-beta", args[1], *args[2:])
    return parse(ctx, args, invoked)


_window(
    "hann_window",
    torch.hann_window,
    """The Hann window 0.5 − 0.5·cos(2πn/N) (torch.hann_window).

## Return Value

A new tensor handle.

Examples:
    puts [torch::tensor_to_list [torch::hann_window 4]]   ;# -> 0.0 0.5 1.0 0.5
""",
)


_window(
    "hamming_window",
    torch.hamming_window,
    """The Hamming window 0.54 − 0.46·cos(2πn/N) (torch.hamming_window).

## Return Value

A new tensor handle.

Examples:
    puts [torch::tensor_to_list [torch::hamming_window 4 float64]]   ;# -> 0.08 0.54 1.0 0.54
""",
)


_window(
    "blackman_window",
    torch.blackman_window,
    """The Blackman window (torch.blackman_window).

## Return Value

A new tensor handle.

Examples:
    puts [torch::tensor_to_list [torch::tensor_round [torch::blackman_window 4 float64] -decimals 6]]   ;# -> 0.0 0.34 1.0 0.34
""",
)


_window(
    "bartlett_window",
    torch.bartlett_window,
    """The Bartlett (triangular) window (torch.bartlett_window).

## Return Value

A new tensor handle.

Examples:
    puts [torch::tensor_to_list [torch::bartlett_window 4]]   ;# -> 0.0 0.5 1.0 0.5
""",
)


_window(
    "kaiser_window",
    torch.kaiser_window,
    """The Kaiser window with shape parameter β (torch.kaiser_window).

A number as the second word is β (`torch::kaiser_window 10 8.0`, the other implementation's form);
a dtype name there is the dtype.

## Return Value

A new tensor handle.

Examples:
    set w [torch::kaiser_window 5 float64 cpu 0 -beta 0]
    puts [torch::tensor_to_list $w]   ;# -> 1.0 1.0 1.0 1.0 1.0
""",
    beta=True,
)


def _stft_options() -> list[Opt]:
    return [
        Opt("nFft", Int(ge=1), help="FFT size", aliases=("n_fft", "nfft")),
        Opt(
            "hopLength",
            Int(ge=1),
            default=None,
            help="samples between frames (default nFft/4)",
            aliases=("hop_length",),
        ),
        Opt(
            "winLength", Int(ge=1), default=None, help="window length (default nFft)", aliases=("win_length",)
        ),
        Opt("window", Handle("tensor"), default=None, help="window tensor (default: a Hann window)"),
        Opt("center", Bool(), default=True, help="pad the signal so frame t is centred at t·hop"),
        Opt("normalized", Bool(), default=False, help="multiply by nFft^-0.5"),
        Opt(
            "onesided",
            Bool(),
            default=None,
            help="keep only non-negative frequencies (default: for real input)",
        ),
    ]


def _window_for(window: torch.Tensor | None, win_length: int | None, n_fft: int, like: torch.Tensor):
    if window is not None:
        return window
    real = like.real if like.is_complex() else like
    dtype = real.dtype if real.is_floating_point() else torch.float32
    return torch.hann_window(win_length or n_fft, dtype=dtype, device=like.device)


@command(
    "tensor_stft",
    _input("signal (time last; 1-d or batch × time)"),
    *_stft_options(),
    Opt(
        "padMode",
        Choice("reflect", "constant", "replicate", "circular"),
        default="reflect",
        help="how -center pads",
        aliases=("pad_mode",),
    ),
)
def tensor_stft(input, n_fft, hop_length, win_length, window, center, normalized, onesided, pad_mode):
    """The short-time Fourier transform (torch.stft, complex result): frequency × frame.

    Defaults are torch's (not normalized; the other implementation normalizes by default).

    ## Return Value

    A new complex tensor handle of shape (..., nFft/2+1, frames).

    Examples:
        set x [torch::tensor_create [lrepeat 16 1.0]]
        set s [torch::tensor_stft $x 8 -hopLength 4]
        puts [torch::tensor_shape $s]   ;# -> 5 5
    """
    if not input.is_floating_point() and not input.is_complex():
        input = input.float()
    window = _window_for(window, win_length, n_fft, input)
    return torch.stft(
        input,
        n_fft,
        hop_length,
        win_length,
        window,
        center=center,
        pad_mode=pad_mode,
        normalized=normalized,
        onesided=onesided,
        return_complex=True,
    )


@command(
    "tensor_istft",
    _input("complex STFT (frequency × frame)"),
    *_stft_options(),
    Opt("length", Int(ge=1), default=None, help="length of the signal to return"),
    context=True,
)
@names_handles
def tensor_istft(input, n_fft, hop_length, win_length, window, center, normalized, onesided, length):
    """The inverse short-time Fourier transform (torch.istft): tensor_stft's signal back.

    ## Return Value

    A new real tensor handle.

    Examples:
        set x [torch::tensor_create {0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15} -dtype float64]
        set s [torch::tensor_stft $x 8 -hopLength 2]
        set y [torch::tensor_istft $s 8 -hopLength 2 -length 16]
        puts [torch::tensor_to_list [torch::tensor_round $y -decimals 6]]   ;# -> 0.0 1.0 2.0 3.0 4.0 5.0 6.0 7.0 8.0 9.0 10.0 11.0 12.0 13.0 14.0 15.0
    """
    if not input.is_complex():
        raise invalid_value("-input", "", "must be a complex STFT (from torch::tensor_stft)")
    window = _window_for(window, win_length, n_fft, input)
    return torch.istft(
        input,
        n_fft,
        hop_length,
        win_length,
        window,
        center=center,
        normalized=normalized,
        onesided=onesided,
        length=length,
    )


@command(
    "spectrogram",
    _input("waveform (time last)"),
    Opt("nFft", Int(ge=1), default=400, help="FFT size", aliases=("n_fft",)),
    Opt(
        "hopLength",
        Int(ge=1),
        default=None,
        help="samples between frames (default winLength/2)",
        aliases=("hop_length",),
    ),
    Opt("winLength", Int(ge=1), default=None, help="window length (default nFft)", aliases=("win_length",)),
    Opt("window", Handle("tensor"), default=None, help="window tensor (default: a Hann window)"),
    Opt("power", Double(gt=0), default=2.0, help="exponent of the magnitude: 2 power, 1 energy"),
    Opt("normalized", Bool(), default=False, help="divide by the window's L2 norm"),
    Opt("center", Bool(), default=True, help="pad the signal so frames are centred"),
)
def spectrogram(input, n_fft, hop_length, win_length, window, power, normalized, center):
    """|STFT|^power of a waveform, frequency × frame (torchaudio.functional.spectrogram's formula).

    ## Return Value

    A new tensor handle of shape (..., nFft/2+1, frames).

    Examples:
        set x [torch::ones {64}]
        set s [torch::spectrogram $x -nFft 16 -hopLength 8]
        puts [torch::tensor_shape $s]   ;# -> 9 9
    """
    if not input.is_floating_point():
        input = input.float()
    return S.spectrogram(input, n_fft, hop_length, win_length, window, power, normalized, center)


@command(
    "melscale_fbanks",
    Opt("nFreqs", Int(ge=2), help="frequency bins of the spectrogram (nFft/2+1)", aliases=("n_freqs",)),
    Opt("nMels", Int(ge=1), help="mel bands", aliases=("n_mels",)),
    Opt("sampleRate", Double(gt=0), help="sample rate in Hz", aliases=("sample_rate",)),
    Opt("fMin", Double(ge=0), default=0.0, help="lowest frequency in Hz", aliases=("f_min",)),
    Opt(
        "fMax",
        Double(gt=0),
        default=None,
        default_doc="sampleRate/2",
        help="highest frequency in Hz",
        aliases=("f_max",),
    ),
    Opt("norm", Choice("none", "slaney"), default="none", help="slaney: divide each filter by its width"),
    Opt("melScale", Choice("htk", "slaney"), default="htk", help="mel formula", aliases=("mel_scale",)),
    Opt("dtype", FloatDType, default=torch.float32, help="element type"),
)
def melscale_fbanks(n_freqs, n_mels, sample_rate, f_min, f_max, norm, mel_scale, dtype):
    """Triangular mel filter banks (torchaudio.functional.melscale_fbanks's formula).

    The result is frequency × mel (torchaudio's layout; the other implementation returns its
    transpose): `spectrogramᵀ · fb` is the mel spectrogram.

    ## Return Value

    A new tensor handle of shape (nFreqs, nMels).

    Examples:
        set fb [torch::melscale_fbanks 201 40 16000]
        puts [torch::tensor_shape $fb]   ;# -> 201 40
    """
    f_max = sample_rate / 2 if f_max is None else f_max
    if not f_max > f_min:
        raise invalid_value("-fMax", repr(f_max), f"must be greater than -fMin ({f_min!r})")
    return S.melscale_fbanks(
        n_freqs, f_min, f_max, n_mels, sample_rate, None if norm == "none" else norm, mel_scale, dtype
    )


@command(
    "mfcc",
    Opt(
        "spectrogram",
        Handle("tensor"),
        help="mel spectrogram (mels × frames), or a waveform with -sampleRate",
        aliases=("input", "waveform"),
    ),
    Opt("nMfcc", Int(ge=1), default=13, help="coefficients to keep", aliases=("n_mfcc",)),
    Opt(
        "dctType",
        Int(),
        default=2,
        help="DCT type (only 2, the DCT-II, as in torchaudio)",
        aliases=("dct_type",),
    ),
    Opt("norm", Choice("ortho", "none"), default="ortho", help="DCT normalization"),
    Opt(
        "logMels",
        Bool(),
        default=False,
        help="natural log of the mels instead of decibels",
        aliases=("log_mels",),
    ),
    Opt(
        "sampleRate",
        Double(gt=0),
        default=None,
        help="the input is a waveform at this rate: compute its mel spectrogram first",
        aliases=("sample_rate",),
    ),
    Opt("nFft", Int(ge=1), default=400, help="FFT size for a waveform", aliases=("n_fft",)),
    Opt("nMels", Int(ge=1), default=128, help="mel bands for a waveform", aliases=("n_mels",)),
    Opt(
        "hopLength",
        Int(ge=1),
        default=None,
        help="hop for a waveform (default nFft/2)",
        aliases=("hop_length",),
    ),
    context=True,
)
@names_handles
def mfcc(spectrogram, n_mfcc, dct_type, norm, log_mels, sample_rate, n_fft, n_mels, hop_length):
    """Mel-frequency cepstral coefficients (torchaudio's MFCC): DCT-II of the mel spectrogram in decibels.

    The input is a mel spectrogram (mels × frames), as in the other implementation; with
    `-sampleRate` it is a waveform and its mel spectrogram (`-nFft`, `-nMels`, `-hopLength`) is
    computed first, as torchaudio.transforms.MFCC does. Decibels are floored 80 dB below the
    maximum; `-logMels 1` uses log(mel + 1e-6) instead.

    ## Return Value

    A new tensor handle of shape (..., nMfcc, frames).

    Examples:
        set mel [torch::tensor_add [torch::ones {40 5}] 1]
        puts [torch::tensor_shape [torch::mfcc $mel 13]]   ;# -> 13 5
        set wave [torch::randn {1600}]
        puts [torch::tensor_shape [torch::mfcc $wave -sampleRate 16000 -nMfcc 20]]   ;# -> 20 9
    """
    if dct_type != 2:
        raise invalid_value("-dctType", str(dct_type), "must be 2 (only the DCT-II is supported)")
    x = spectrogram if spectrogram.is_floating_point() else spectrogram.float()
    if sample_rate is not None:
        x = S.mel_spectrogram(x, sample_rate, n_fft, hop_length, n_mels)
    if x.dim() < 2:
        raise invalid_value("-spectrogram", "", "must be a mels × frames spectrogram (or give -sampleRate)")
    try:
        return S.mfcc_from_mel(x, n_mfcc, None if norm == "none" else norm, log_mels)
    except ValueError as exc:
        raise invalid_value("-nMfcc", str(n_mfcc), str(exc).replace(f"n_mfcc ({n_mfcc}) ", "")) from None


@command(
    "time_stretch",
    Opt(
        "input",
        Handle("tensor"),
        help="complex STFT (... × freq × frames), from tensor_stft",
        aliases=("stft", "stftMatrix", "stft_matrix"),
    ),
    Opt("rate", Double(gt=0), help="speed-up factor: 2 halves the frames, 0.5 doubles them"),
    Opt(
        "hopLength",
        Int(ge=1),
        default=None,
        help="hop of the STFT (default: freq−1, i.e. nFft/2)",
        aliases=("hop_length",),
    ),
    context=True,
)
@names_handles
def time_stretch(input, rate, hop_length):
    """Speed a complex spectrogram up by `-rate` keeping its pitch: the phase vocoder (torchaudio's).

    ## Return Value

    A new complex tensor handle with ceil(frames / rate) frames.

    Examples:
        set x [torch::tensor_create [lrepeat 64 1.0]]
        set s [torch::tensor_stft $x 16 -hopLength 8]
        puts [torch::tensor_shape [torch::time_stretch $s 2 8]]   ;# -> 9 5
    """
    if not input.is_complex() or input.dim() < 2:
        raise invalid_value("-input", "", "must be a complex STFT (frequency × frames)")
    n_freq = input.shape[-2]
    hop = hop_length or (n_freq - 1)
    advance = S.default_phase_advance(n_freq, hop, input.real.dtype).to(input.device)
    return S.phase_vocoder(input, rate, advance)


@command(
    "pitch_shift",
    Opt("waveform", Handle("tensor"), help="waveform (time last)", aliases=("input",)),
    Opt("sampleRate", Double(gt=0), help="sample rate in Hz", aliases=("sample_rate",)),
    Opt("nSteps", Double(), help="steps to raise the pitch (negative lowers it)", aliases=("n_steps",)),
    Opt("binsPerOctave", Int(ge=1), default=12, help="steps per octave", aliases=("bins_per_octave",)),
    Opt("nFft", Int(ge=4), default=512, help="FFT size of the phase vocoder", aliases=("n_fft",)),
    Opt("hopLength", Int(ge=1), default=None, help="hop (default nFft/4)", aliases=("hop_length",)),
    context=True,
)
@names_handles
def pitch_shift(waveform, sample_rate, n_steps, bins_per_octave, n_fft, hop_length):
    """Raise a waveform's pitch by `-nSteps` semitones (of `-binsPerOctave`) keeping its length.

    The waveform is time-stretched by 2^(−n/b) with the phase vocoder, then resampled back to
    its length (linear interpolation), as torchaudio's pitch_shift does with its resampler: a
    tone at f comes out at f·2^(n/b).

    ## Return Value

    A new tensor handle, the waveform's shape.

    Examples:
        set t [torch::tensor_div [torch::arange 0 4000 -dtype float64] 8000]
        set tone [torch::tensor_sin [torch::tensor_mul $t [expr {2 * acos(-1) * 440}]]]
        set up [torch::pitch_shift $tone 8000 12]
        puts [torch::tensor_shape $up]   ;# -> 4000
    """
    if waveform.shape[-1] < n_fft:
        raise invalid_value("-waveform", "", f"must have at least -nFft ({n_fft}) samples")
    x = waveform if waveform.is_floating_point() else waveform.float()
    return S.pitch_shift(x, sample_rate, n_steps, bins_per_octave, n_fft, hop_length)


@command("tensor_real", _input("tensor handle (complex or real)"))
def tensor_real(input):
    """The real part of each element (a real tensor is returned as is).

    ## Return Value

    A new tensor handle.

    Examples:
        puts [torch::tensor_to_list [torch::tensor_real [torch::tensor_fft [torch::tensor_create {1 2}]]]]   ;# -> 3.0 -1.0
    """
    return torch.real(input)


@command("tensor_imag", _input("complex tensor handle"), context=True)
@names_handles
def tensor_imag(input):
    """The imaginary part of each element of a complex tensor.

    ## Return Value

    A new tensor handle.

    Examples:
        set a [torch::hilbert [torch::tensor_create {1 0 -1 0} -dtype float64]]
        puts [torch::tensor_to_list [torch::tensor_imag $a]]   ;# -> 0.0 1.0 0.0 -1.0
    """
    if not input.is_complex():
        raise invalid_value("-input", "", "must be a complex tensor (its imaginary part is zero otherwise)")
    return torch.imag(input)


@command("tensor_angle", _input("tensor handle"))
def tensor_angle(input):
    """The argument (phase angle, radians) of each element; 0 or π for real numbers.

    ## Return Value

    A new tensor handle.

    Examples:
        set a [torch::hilbert [torch::tensor_create {1 0 -1 0} -dtype float64]]
        puts [torch::tensor_to_list [torch::tensor_round [torch::tensor_angle $a] -decimals 4]]   ;# -> 0.0 1.5708 3.1416 -1.5708
    """
    return torch.angle(input)
