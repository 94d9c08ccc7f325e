"""Pitch and formants changed apart: the spectral envelope of a sentence warped and
tilted, its harmonics kept (step 2 of the voice derivation in `openlive.backends.piper`).

A short-time Fourier transform of the sentence; each frame's envelope found by cepstral
smoothing, warped by the formant ratio and tilted; the frames added back. About 5 ms of
transforms per second of audio.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from openlive.audio.pcm import Samples

__all__ = ["reshape"]

_N_FFT = 1024
_HOP = 512
_LIFTER = 30
"""Cepstral coefficients kept for the envelope: quefrencies below 30 samples (1.4 ms at
22.05 kHz), well short of a pitch period, so that the harmonics are smoothed away."""
_WINDOW = np.hanning(_N_FFT + 1)[:-1].astype(np.float32)


def reshape(
    samples: Samples, rate: int, *, formant_ratio: float, tilt: float = 0.0, speedup: float = 1.0
) -> Samples:
    """Warp the spectral envelope of `samples` by `formant_ratio` (above 1 moves formants
    up) and tilt it by `tilt` dB per octave above 1 kHz, keeping the harmonics.

    `speedup` is the factor by which the result will be played faster (the tilt is
    meant for the frequencies that will be heard). Keeps the RMS level. One whole
    sentence at a time: its edges are padded with silence.
    """
    if len(samples) == 0 or (formant_ratio == 1.0 and tilt == 0.0):
        return samples
    x = np.asarray(samples, dtype=np.float32)
    frames_count = (len(x) + _N_FFT) // _HOP + 1
    padded = np.zeros(frames_count * _HOP + _N_FFT, dtype=np.float32)
    padded[_N_FFT : _N_FFT + len(x)] = x
    index = np.arange(_N_FFT)[None, :] + _HOP * np.arange(frames_count)[:, None]
    spectrum = np.fft.rfft(padded[index] * _WINDOW, axis=1)

    log_magnitude = np.log(np.abs(spectrum) + 1e-9)
    cepstrum = np.fft.irfft(log_magnitude, axis=1)
    cepstrum[:, _LIFTER : _N_FFT - _LIFTER + 1] = 0
    envelope = np.fft.rfft(cepstrum, axis=1).real  # the log envelope of each frame

    bins = np.arange(_N_FFT // 2 + 1, dtype=np.float32)
    source = np.minimum(bins / formant_ratio, _N_FFT // 2)  # new(f) = old(f / ratio)
    low = source.astype(np.int64)
    high = np.minimum(low + 1, _N_FFT // 2)
    weight = source - low
    gain = envelope[:, low] * (1 - weight) + envelope[:, high] * weight - envelope
    if tilt:
        heard = np.maximum(bins * (rate * speedup / _N_FFT), 1000.0)
        gain = gain + (tilt * np.log(10) / 20) * np.log2(heard / 1000.0)  # dB to ln gain
    spectrum *= np.exp(gain).astype(np.float32)

    out = np.fft.irfft(spectrum, n=_N_FFT, axis=1).astype(np.float32) * _WINDOW
    y = np.zeros(len(padded), dtype=np.float32)
    norm = np.zeros(len(padded), dtype=np.float32)
    squared = _WINDOW**2
    for k in range(_N_FFT // _HOP):  # overlap-add, one hop-sized slice of each frame at once
        part = slice(k * _HOP, (k + 1) * _HOP)
        span = slice(k * _HOP, k * _HOP + frames_count * _HOP)
        y[span] += out[:, part].reshape(-1)
        norm[span] += np.tile(squared[part], frames_count)
    kept = slice(_N_FFT, _N_FFT + len(x))
    result = y[kept] / np.maximum(norm[kept], np.float32(1e-3))
    before, after = _rms(x), _rms(result)
    return (result * (before / after) if after > 0 else result).astype(np.float32)


def _rms(x: npt.NDArray[np.floating[Any]]) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64))))
