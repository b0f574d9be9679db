"""Signal processing written with torch ops: the analytic signal, mel filter banks,
spectrograms, MFCCs, the phase vocoder, time stretching and pitch shifting.

The formulas are torchaudio's (its functional module documents them); torchaudio has no
build for the torch version tcltorch pins, so they are written here, in float64-safe
torch code usable from plain Python."""

from __future__ import annotations

import math

import torch


def hilbert(x: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """The analytic signal x + i·H(x) along ``dim`` (as scipy.signal.hilbert): FFT, keep
    DC (and Nyquist), double the positive frequencies, zero the negative ones, inverse FFT."""
    if x.is_complex():
        raise ValueError("hilbert needs a real signal")
    n = x.shape[dim]
    spectrum = torch.fft.fft(x, dim=dim)
    h = torch.zeros(n, dtype=spectrum.real.dtype, device=x.device)
    if n % 2 == 0:
        h[0] = h[n // 2] = 1.0
        h[1 : n // 2] = 2.0
    else:
        h[0] = 1.0
        h[1 : (n + 1) // 2] = 2.0
    shape = [1] * x.dim()
    shape[dim] = n
    return torch.fft.ifft(spectrum * h.reshape(shape), dim=dim)


def hz_to_mel(freq: torch.Tensor, scale: str = "htk") -> torch.Tensor:
    if scale == "htk":
        return 2595.0 * torch.log10(1.0 + freq / 700.0)
    f_sp = 200.0 / 3
    min_log_hz, logstep = 1000.0, math.log(6.4) / 27.0
    mels = freq / f_sp
    min_log_mel = min_log_hz / f_sp
    return torch.where(freq >= min_log_hz, min_log_mel + torch.log(freq / min_log_hz) / logstep, mels)


def mel_to_hz(mels: torch.Tensor, scale: str = "htk") -> torch.Tensor:
    if scale == "htk":
        return 700.0 * (10.0 ** (mels / 2595.0) - 1.0)
    f_sp = 200.0 / 3
    min_log_hz, logstep = 1000.0, math.log(6.4) / 27.0
    min_log_mel = min_log_hz / f_sp
    return torch.where(
        mels >= min_log_mel, min_log_hz * torch.exp(logstep * (mels - min_log_mel)), f_sp * mels
    )


def melscale_fbanks(
    n_freqs: int,
    f_min: float,
    f_max: float,
    n_mels: int,
    sample_rate: float,
    norm: str | None = None,
    mel_scale: str = "htk",
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """Triangular mel filters, shape (n_freqs, n_mels): spectrogram @ fb is the mel spectrogram."""
    all_freqs = torch.linspace(0, sample_rate // 2, n_freqs, dtype=torch.float64)
    m_pts = torch.linspace(
        float(hz_to_mel(torch.tensor(f_min, dtype=torch.float64), mel_scale)),
        float(hz_to_mel(torch.tensor(f_max, dtype=torch.float64), mel_scale)),
        n_mels + 2,
        dtype=torch.float64,
    )
    f_pts = mel_to_hz(m_pts, mel_scale)
    f_diff = f_pts[1:] - f_pts[:-1]
    slopes = f_pts.unsqueeze(0) - all_freqs.unsqueeze(1)
    down = -slopes[:, :-2] / f_diff[:-1]
    up = slopes[:, 2:] / f_diff[1:]
    fb = torch.clamp(torch.minimum(down, up), min=0.0)
    if norm == "slaney":
        fb = fb * (2.0 / (f_pts[2 : n_mels + 2] - f_pts[:n_mels])).unsqueeze(0)
    return fb.to(dtype)


def spectrogram(
    waveform: torch.Tensor,
    n_fft: int,
    hop_length: int | None = None,
    win_length: int | None = None,
    window: torch.Tensor | None = None,
    power: float | None = 2.0,
    normalized: bool = False,
    center: bool = True,
    pad_mode: str = "reflect",
    onesided: bool = True,
) -> torch.Tensor:
    """|STFT|^power (complex STFT when power is None), shape (..., freq, time)."""
    win_length = win_length or n_fft
    hop_length = hop_length or win_length // 2
    if window is None:
        window = torch.hann_window(win_length, dtype=waveform.dtype, device=waveform.device)
    shape = waveform.shape
    flat = waveform.reshape(-1, shape[-1])
    spec = torch.stft(
        flat,
        n_fft,
        hop_length,
        win_length,
        window,
        center=center,
        pad_mode=pad_mode,
        normalized=False,
        onesided=onesided,
        return_complex=True,
    )
    spec = spec.reshape(shape[:-1] + spec.shape[-2:])
    if normalized:
        spec = spec / window.pow(2.0).sum().sqrt()
    if power is None:
        return spec
    return spec.abs().pow(power)


def amplitude_to_db(
    x: torch.Tensor, multiplier: float = 10.0, amin: float = 1e-10, top_db: float | None = 80.0
) -> torch.Tensor:
    """multiplier·log10(max(x, amin)), floored at top_db below each spectrogram's maximum."""
    x_db = multiplier * torch.log10(torch.clamp(x, min=amin))
    if top_db is not None:
        shape = x_db.shape
        channels = shape[-3] if x_db.dim() > 2 else 1
        packed = x_db.reshape(-1, channels, shape[-2], shape[-1])
        floor = (packed.amax(dim=(-3, -2, -1)) - top_db).view(-1, 1, 1, 1)
        x_db = torch.maximum(packed, floor).reshape(shape)
    return x_db


def create_dct(n_mfcc: int, n_mels: int, norm: str | None = "ortho", dtype: torch.dtype = torch.float32):
    """DCT-II matrix of shape (n_mels, n_mfcc)."""
    n = torch.arange(n_mels, dtype=torch.float64)
    k = torch.arange(n_mfcc, dtype=torch.float64).unsqueeze(1)
    dct = torch.cos(math.pi / n_mels * (n + 0.5) * k)
    if norm == "ortho":
        dct[0] *= 1.0 / math.sqrt(2.0)
        dct *= math.sqrt(2.0 / n_mels)
    else:
        dct *= 2.0
    return dct.t().to(dtype)


def mfcc_from_mel(
    mel: torch.Tensor,
    n_mfcc: int = 40,
    norm: str | None = "ortho",
    log_mels: bool = False,
    top_db: float | None = 80.0,
) -> torch.Tensor:
    """MFCCs (..., n_mfcc, time) of a mel spectrogram (..., n_mels, time), as torchaudio's MFCC."""
    n_mels = mel.shape[-2]
    if n_mfcc > n_mels:
        raise ValueError(f"n_mfcc ({n_mfcc}) cannot exceed the number of mel bands ({n_mels})")
    mel = torch.log(mel + 1e-6) if log_mels else amplitude_to_db(mel, 10.0, 1e-10, top_db)
    dct = create_dct(n_mfcc, n_mels, norm, mel.dtype).to(mel.device)
    return torch.matmul(mel.transpose(-1, -2), dct).transpose(-1, -2)


def mel_spectrogram(
    waveform: torch.Tensor,
    sample_rate: float,
    n_fft: int = 400,
    hop_length: int | None = None,
    n_mels: int = 128,
    f_min: float = 0.0,
    f_max: float | None = None,
) -> torch.Tensor:
    spec = spectrogram(waveform, n_fft, hop_length, power=2.0)
    fb = melscale_fbanks(
        n_fft // 2 + 1,
        f_min,
        f_max if f_max is not None else sample_rate / 2,
        n_mels,
        sample_rate,
        dtype=spec.dtype,
    ).to(spec.device)
    return torch.matmul(spec.transpose(-1, -2), fb).transpose(-1, -2)


def phase_vocoder(spec: torch.Tensor, rate: float, phase_advance: torch.Tensor) -> torch.Tensor:
    """Speed a complex spectrogram (..., freq, time) up by ``rate`` keeping its pitch."""
    if rate == 1.0:
        return spec
    real_dtype = spec.real.dtype
    time_steps = torch.arange(0, spec.size(-1), rate, device=spec.device, dtype=real_dtype)
    alphas = time_steps % 1.0
    phase_0 = spec[..., :1].angle()
    spec = torch.nn.functional.pad(spec, [0, 2])
    spec_0 = spec.index_select(-1, time_steps.long())
    spec_1 = spec.index_select(-1, (time_steps + 1).long())
    phase = spec_1.angle() - spec_0.angle() - phase_advance
    phase = phase - 2 * math.pi * torch.round(phase / (2 * math.pi))
    phase = torch.cat([phase_0, (phase + phase_advance)[..., :-1]], dim=-1)
    mag = alphas * spec_1.abs() + (1 - alphas) * spec_0.abs()
    return torch.polar(mag, torch.cumsum(phase, -1))


def default_phase_advance(n_freq: int, hop_length: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    return torch.linspace(0, math.pi * hop_length, n_freq, dtype=dtype)[..., None]


def time_stretch_waveform(
    waveform: torch.Tensor, rate: float, n_fft: int = 512, hop_length: int | None = None
) -> torch.Tensor:
    """A waveform played ``rate`` times faster at the same pitch (length ≈ len / rate)."""
    hop_length = hop_length or n_fft // 4
    window = torch.hann_window(n_fft, dtype=waveform.dtype, device=waveform.device)
    shape = waveform.shape
    flat = waveform.reshape(-1, shape[-1])
    spec = torch.stft(flat, n_fft, hop_length, window=window, return_complex=True)
    stretched = phase_vocoder(
        spec, rate, default_phase_advance(spec.shape[-2], hop_length, waveform.dtype).to(waveform.device)
    )
    length = round(shape[-1] / rate)
    out = torch.istft(stretched, n_fft, hop_length, window=window, length=length)
    return out.reshape(shape[:-1] + (length,))


def pitch_shift(
    waveform: torch.Tensor,
    sample_rate: float,
    n_steps: float,
    bins_per_octave: int = 12,
    n_fft: int = 512,
    hop_length: int | None = None,
) -> torch.Tensor:
    """Raise the pitch by ``n_steps`` steps of 1/bins_per_octave octave, keeping the length:
    time-stretch by 2^(-n/b) with the phase vocoder, then resample back to the original length
    (linear interpolation)."""
    rate = 2.0 ** (-n_steps / bins_per_octave)
    shape = waveform.shape
    stretched = time_stretch_waveform(waveform, rate, n_fft, hop_length)
    flat = stretched.reshape(-1, 1, stretched.shape[-1])
    resampled = torch.nn.functional.interpolate(flat, size=shape[-1], mode="linear", align_corners=False)
    return resampled.reshape(shape)
