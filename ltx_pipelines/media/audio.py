"""Decode a clip's audio track with PyAV: a time window, resampled to one rate and channel layout."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import torch

from ltx_pipelines.media.errors import MediaError


def has_audio(path: str | Path) -> bool:
    """Whether the file has an audio stream."""
    with av.open(str(path)) as container:
        return bool(container.streams.audio)


def decode_audio(
    path: str | Path, start: float, duration: float, sample_rate: int, channels: int = 2
) -> torch.Tensor | None:
    """``channels``×samples float32 of ``[start, start + duration)`` at ``sample_rate``; None without audio.

    Missing tail samples (a track shorter than the video) are zero-padded so the length is always exact.
    """
    wanted = round(duration * sample_rate)
    layout = "stereo" if channels == 2 else "mono"
    resampler = av.AudioResampler(format="fltp", layout=layout, rate=sample_rate)
    pieces: list[np.ndarray] = []
    try:
        with av.open(str(path)) as container:
            if not container.streams.audio:
                return None
            stream = container.streams.audio[0]
            for frame in container.decode(stream):
                for out in resampler.resample(frame):
                    pieces.append(out.to_ndarray())
                if frame.time is not None and frame.time > start + duration + 0.1:
                    break
            for out in resampler.resample(None):
                pieces.append(out.to_ndarray())
    except av.error.FFmpegError as error:
        raise MediaError(path, "audio does not decode", getattr(error, "strerror", None) or str(error)) from error
    audio = np.concatenate(pieces, axis=1) if pieces else np.zeros((channels, 0), dtype=np.float32)
    first = round(start * sample_rate)
    window = audio[:, first : first + wanted]
    if window.shape[1] < wanted:
        window = np.pad(window, ((0, 0), (0, wanted - window.shape[1])))
    return torch.from_numpy(np.ascontiguousarray(window, dtype=np.float32))


def resample(waveform: torch.Tensor, source_rate: int, target_rate: int) -> torch.Tensor:
    """channels×samples float32 resampled with FFmpeg's resampler (via PyAV), length ``round(n·target/source)``."""
    if source_rate == target_rate:
        return waveform
    channels = waveform.shape[0]
    layout = "stereo" if channels == 2 else "mono"
    frame = av.AudioFrame.from_ndarray(waveform.float().contiguous().numpy(), format="fltp", layout=layout)
    frame.sample_rate = source_rate
    resampler = av.AudioResampler(format="fltp", layout=layout, rate=target_rate)
    pieces = [out.to_ndarray() for out in [*resampler.resample(frame), *resampler.resample(None)]]
    audio = np.concatenate(pieces, axis=1) if pieces else np.zeros((channels, 0), dtype=np.float32)
    wanted = round(waveform.shape[1] * target_rate / source_rate)
    audio = audio[:, :wanted]
    if audio.shape[1] < wanted:
        audio = np.pad(audio, ((0, 0), (0, wanted - audio.shape[1])))
    return torch.from_numpy(np.ascontiguousarray(audio, dtype=np.float32))
