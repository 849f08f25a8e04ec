"""Waveform → log-mel spectrogram, as the LTX-2 audio VAE expects it (torch STFT, slaney mel filters)."""

from __future__ import annotations

from functools import cache

import numpy as np
import torch

N_FFT = 1024


@cache
def _filters(sample_rate: int, n_fft: int, mel_bins: int) -> torch.Tensor:
    from transformers.audio_utils import mel_filter_bank

    bank = mel_filter_bank(
        num_frequency_bins=n_fft // 2 + 1,
        num_mel_filters=mel_bins,
        min_frequency=0.0,
        max_frequency=sample_rate / 2.0,
        sampling_rate=sample_rate,
        norm="slaney",
        mel_scale="slaney",
    )
    return torch.from_numpy(np.asarray(bank, dtype=np.float32))  # (n_fft/2+1) × mel_bins


def log_mel(
    waveform: torch.Tensor, sample_rate: int, hop_length: int, mel_bins: int, n_fft: int = N_FFT
) -> torch.Tensor:
    """channels×samples → channels×frames×mel_bins: log(max(|STFT| · mel, 1e-5)), Hann window, centred frames."""
    window = torch.hann_window(n_fft, device=waveform.device)
    padded = waveform.float()
    if padded.shape[-1] <= n_fft // 2:  # reflect padding needs more samples than half a window
        padded = torch.nn.functional.pad(padded, (0, n_fft // 2 + 1 - padded.shape[-1]))
    spectrum = torch.stft(
        padded,
        n_fft,
        hop_length=hop_length,
        win_length=n_fft,
        window=window,
        center=True,
        pad_mode="reflect",
        return_complex=True,
    ).abs()  # channels × bins × frames
    mel = torch.einsum("cft,fm->ctm", spectrum, _filters(sample_rate, n_fft, mel_bins).to(spectrum.device))
    return torch.log(torch.clamp(mel, min=1e-5))
