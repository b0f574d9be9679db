"""Signal processing commands against torch.fft/torch.stft and against the formulas."""

from __future__ import annotations

import math

import pytest
import torch
from helpers import tcl_tensor

import tcltorch


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("shape", [(8,), (3, 6), (2, 3, 5)])
def test_ffts_equal_torch_fft(tcl, dtype, shape):
    x = torch.randn(shape, dtype=dtype)
    h = tcl.put(x)
    close = {"rtol": 1e-5, "atol": 1e-5} if dtype == torch.float32 else {"rtol": 1e-12, "atol": 1e-12}
    torch.testing.assert_close(tcl_tensor(tcl, f"torch::tensor_fft {h}"), torch.fft.fft(x), **close)
    torch.testing.assert_close(
        tcl_tensor(tcl, f"torch::tensor_fft {h} 0 -norm ortho"),
        torch.fft.fft(x, dim=0, norm="ortho"),
        **close,
    )
    torch.testing.assert_close(
        tcl_tensor(tcl, f"torch::tensor_ifft {h} -n 4"), torch.fft.ifft(x, n=4), **close
    )
    torch.testing.assert_close(tcl_tensor(tcl, f"torch::tensor_rfft {h}"), torch.fft.rfft(x), **close)
    r = tcl.put(torch.fft.rfft(x))
    torch.testing.assert_close(tcl_tensor(tcl, f"torch::tensor_irfft {r} {shape[-1]}"), x, **close)
    if len(shape) >= 2:
        torch.testing.assert_close(tcl_tensor(tcl, f"torch::tensor_fft2d {h}"), torch.fft.fft2(x), **close)
        torch.testing.assert_close(tcl_tensor(tcl, f"torch::tensor_ifft2d {h}"), torch.fft.ifft2(x), **close)
    assert torch.equal(tcl_tensor(tcl, f"torch::fftshift {h}"), torch.fft.fftshift(x))
    assert torch.equal(tcl_tensor(tcl, f"torch::ifftshift {h} -dim -1"), torch.fft.ifftshift(x, dim=-1))


@pytest.mark.parametrize(
    "name", ["hann_window", "hamming_window", "blackman_window", "bartlett_window", "kaiser_window"]
)
@pytest.mark.parametrize("periodic", [0, 1])
def test_windows_equal_torch(tcl, name, periodic):
    got = tcl_tensor(tcl, f"torch::{name} 9 float64 cpu {periodic}")
    want = getattr(torch, name)(9, periodic=bool(periodic), dtype=torch.float64)
    torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)


def test_stft_istft_round_trip_and_equal_torch(tcl):
    x = torch.randn(2, 64, dtype=torch.float64)
    h = tcl.put(x)
    s = tcl_tensor(tcl, f"torch::tensor_stft {h} 16 4")
    want = torch.stft(x, 16, 4, window=torch.hann_window(16, dtype=torch.float64), return_complex=True)
    torch.testing.assert_close(s, want)
    back = tcl_tensor(tcl, f"torch::tensor_istft {tcl.put(s)} 16 4 -length 64")
    torch.testing.assert_close(back, x)


def test_spectrogram_is_stft_magnitude_to_the_power(tcl):
    x = torch.randn(100)
    got = tcl_tensor(tcl, f"torch::spectrogram {tcl.put(x)} -nFft 32 -hopLength 8 -power 2")
    s = torch.stft(x, 32, 8, window=torch.hann_window(32), return_complex=True)
    torch.testing.assert_close(got, s.abs() ** 2, rtol=1e-5, atol=1e-5)
    got1 = tcl_tensor(tcl, f"torch::spectrogram {tcl.put(x)} -nFft 32 -hopLength 8 -power 1 -normalized 1")
    torch.testing.assert_close(
        got1, s.abs() / torch.hann_window(32).pow(2).sum().sqrt(), rtol=1e-5, atol=1e-5
    )


def test_hilbert_of_a_cosine_is_the_analytic_signal(tcl):
    n = 64
    t = torch.arange(n, dtype=torch.float64) * 2 * math.pi * 5 / n
    a = tcl_tensor(tcl, f"torch::hilbert {tcl.put(torch.cos(t))}")
    torch.testing.assert_close(a.real, torch.cos(t), atol=1e-12, rtol=0)
    torch.testing.assert_close(a.imag, torch.sin(t), atol=1e-12, rtol=0)
    odd = torch.randn(7, dtype=torch.float64)
    assert torch.allclose(tcl_tensor(tcl, f"torch::hilbert {tcl.put(odd)}").real, odd)


def _htk_mel(f):
    return 2595.0 * math.log10(1.0 + f / 700.0)


def test_mel_filter_banks_follow_the_htk_formula(tcl):
    n_freqs, n_mels, sr = 33, 6, 8000.0
    fb = tcl_tensor(tcl, f"torch::melscale_fbanks {n_freqs} {n_mels} {sr} -dtype float64")
    assert fb.shape == (n_freqs, n_mels)
    m_lo, m_hi = _htk_mel(0.0), _htk_mel(sr / 2)
    edges = [
        700.0 * (10 ** ((m_lo + i * (m_hi - m_lo) / (n_mels + 1)) / 2595.0) - 1.0) for i in range(n_mels + 2)
    ]
    freqs = [i * (sr / 2) / (n_freqs - 1) for i in range(n_freqs)]
    for m in range(n_mels):
        lo, mid, hi = edges[m], edges[m + 1], edges[m + 2]
        for k, f in enumerate(freqs):
            want = max(0.0, min((f - lo) / (mid - lo), (hi - f) / (hi - mid)))
            assert abs(fb[k, m].item() - want) < 1e-12
    slaney = tcl_tensor(tcl, f"torch::melscale_fbanks {n_freqs} {n_mels} {sr} -norm slaney -dtype float64")
    torch.testing.assert_close(slaney[:, 0], fb[:, 0] * 2.0 / (edges[2] - edges[0]))


def test_mfcc_is_the_orthonormal_dct_of_decibels(tcl):
    mel = torch.rand(10, 4, dtype=torch.float64) + 0.1
    got = tcl_tensor(tcl, f"torch::mfcc {tcl.put(mel)} 5")
    db = 10 * torch.log10(mel)
    db = torch.maximum(db, db.max() - 80)
    n = torch.arange(10, dtype=torch.float64)
    dct = torch.stack([torch.cos(math.pi / 10 * (n + 0.5) * k) for k in range(5)])  # k x n
    dct[0] *= 1 / math.sqrt(2)
    dct *= math.sqrt(2 / 10)
    torch.testing.assert_close(got, dct @ db)
    with pytest.raises(tcltorch.TclError) as info:
        tcl.eval(f"torch::mfcc {tcl.put(mel)} 11")
    assert info.value.errorcode == ["TORCH", "VALUE", "-nMfcc"]


def _peak_hz(x, sr):
    spectrum = torch.fft.rfft(x * torch.hann_window(x.numel(), dtype=x.dtype)).abs()
    return spectrum.argmax().item() * sr / x.numel()


def test_pitch_shift_moves_a_tone_by_semitones_and_keeps_length(tcl):
    sr, f = 8000, 440.0
    t = torch.arange(8000, dtype=torch.float64) / sr
    tone = torch.sin(2 * math.pi * f * t)
    up = tcl_tensor(tcl, f"torch::pitch_shift {tcl.put(tone)} {sr} 12")
    assert up.shape == tone.shape
    assert abs(_peak_hz(up, sr) - 2 * f) < 4  # an octave up, within a bin or so
    down = tcl_tensor(tcl, f"torch::pitch_shift {tcl.put(tone)} {sr} -5")
    assert abs(_peak_hz(down, sr) - f * 2 ** (-5 / 12)) < 4


def test_time_stretch_changes_frames_not_frequency(tcl):
    sr, f = 8000, 500.0
    t = torch.arange(4000, dtype=torch.float64) / sr
    spec = torch.stft(
        torch.sin(2 * math.pi * f * t),
        256,
        128,
        window=torch.hann_window(256, dtype=torch.float64),
        return_complex=True,
    )
    h = tcl.put(spec)
    fast = tcl_tensor(tcl, f"torch::time_stretch {h} 2 128")
    assert fast.shape == (spec.shape[0], math.ceil(spec.shape[1] / 2))
    assert fast.abs().mean(1).argmax() == spec.abs().mean(1).argmax()
    same = tcl_tensor(tcl, f"torch::time_stretch {h} 1")
    assert torch.equal(same, spec)


def test_complex_parts_and_list_form(tcl):
    z = torch.tensor([1 + 2j, -3 - 4j], dtype=torch.complex128)
    h = tcl.put(z)
    assert tcl.eval(f"torch::tensor_to_list {h}") == "{1.0 2.0} {-3.0 -4.0}"
    assert tcl_tensor(tcl, f"torch::tensor_real {h}").tolist() == [1.0, -3.0]
    assert tcl_tensor(tcl, f"torch::tensor_imag {h}").tolist() == [2.0, -4.0]
    torch.testing.assert_close(tcl_tensor(tcl, f"torch::tensor_angle {h}"), torch.angle(z))
    assert tcl_tensor(tcl, f"torch::tensor_abs {h}").tolist() == pytest.approx(
        [math.sqrt(5), 5.0], rel=1e-12
    )  # hypot
    with pytest.raises(tcltorch.TclError):
        tcl.eval("torch::tensor_imag [torch::ones 2]")
