"""Scene split with PySceneDetect: where the cuts of a long video are, as (start, end) seconds."""

from __future__ import annotations

from pathlib import Path

from ltx_pipelines.config import SceneSpec
from ltx_pipelines.media.errors import MediaError


def detect_scenes(path: str | Path, spec: SceneSpec) -> list[tuple[float, float]]:
    """The scenes of the video at ``path`` (content detector, PyAV backend, auto-downscaled frames).

    A video without cuts is one scene spanning the whole file. Frames are analysed one at a time at low
    resolution, so memory stays flat however long the video is.
    """
    import scenedetect

    try:
        video = scenedetect.open_video(str(path), backend="pyav", threading_mode="AUTO")
        manager = scenedetect.SceneManager()
        manager.add_detector(
            scenedetect.ContentDetector(threshold=spec.threshold, min_scene_len=f"{spec.min_scene_seconds}s")
        )
        manager.auto_downscale = True
        manager.detect_scenes(video, show_progress=False)
        scenes = manager.get_scene_list(start_in_scene=True)
        end_of_video = video.position.seconds if video.position is not None else 0.0
    except (scenedetect.VideoOpenFailure, OSError) as error:
        raise MediaError(path, "scene detection failed", str(error)) from error
    spans = [(float(start.seconds), float(end.seconds)) for start, end in scenes]
    return spans or [(0.0, float(end_of_video))]
