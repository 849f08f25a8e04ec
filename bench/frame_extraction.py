"""Frame-extraction throughput against the ``ffmpeg`` command line, and peak memory on a long video.

    python -m bench.frame_extraction            # 40 s 720p H.264: ffmpeg CLI vs. naive PyAV vs. ours
    python -m bench.frame_extraction --long     # also: 10 min 1080p through probe, scene split, frames (peak RSS)

The source videos are generated with PyAV into ``--cache-dir`` (reused between runs, never committed). The
reference is ``ffmpeg -i SRC -vf scale=W:H:flags=area -pix_fmt rgb24 -f rawvideo pipe:`` read by this process,
the usual way a Python pipeline gets frames from the CLI; every method scales to the same cover size of the
bucket with the same (area) filter. ffmpeg comes from ``imageio-ffmpeg`` (``pip install -e '.[bench]'``) or PATH.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from ltx_pipelines.config import Bucket
from ltx_pipelines.media.decode import cover_size, decode_clip, iter_video_frames

BUCKET = Bucket(width=768, height=448, frames=121)


def find_ffmpeg() -> str | None:
    """The ffmpeg binary: imageio-ffmpeg's bundled one, else one on PATH; None when there is none."""
    try:
        import imageio_ffmpeg

        return imageio_ffmpeg.get_ffmpeg_exe()
    except (ImportError, RuntimeError):
        return shutil.which("ffmpeg")


def make_video(
    path: Path, seconds: float, width: int, height: int, fps: int = 24, preset: str = "veryfast", grain: int = 24
) -> Path:
    """A synthetic H.264 MP4 (moving gradients and texture, B-frames), written once. ``grain`` adds film grain that
    changes every frame, so the encoder cannot predict it away and the bitrate is camera-like (0: none)."""
    if path.exists():
        return path
    tmp = path.with_suffix(".part.mp4")
    xs = np.arange(width, dtype=np.float32)[None, :]
    ys = np.arange(height, dtype=np.float32)[:, None]
    texture = (np.random.default_rng(0).random((height, width)) * 40).astype(np.uint8)
    plane = np.empty((height, width, 3), dtype=np.uint8)
    noise = np.random.default_rng(1).integers(0, max(grain, 1), size=(7, height, width, 1), dtype=np.uint8)
    with av.open(str(tmp), "w") as container:
        stream = container.add_stream("libx264", rate=Fraction(fps))
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"preset": preset, "crf": "23"}
        for index in range(int(seconds * fps)):
            t = index / fps
            shift = int(t * 60) % width
            plane[..., 0] = (127 + 100 * np.sin(xs / 97.0 + t)).astype(np.uint8)  # broadcast over rows
            plane[..., 1] = (127 + 100 * np.sin(ys / 61.0 - 0.7 * t)).astype(np.uint8)  # over columns
            plane[..., 2] = np.roll(texture, shift, axis=1) + np.uint8(100 * (index // (fps * 5) % 2))
            noisy = plane + noise[index % len(noise)] if grain else plane
            for packet in stream.encode(av.VideoFrame.from_ndarray(noisy, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    tmp.replace(path)
    return path


def timed(run: Callable[[], int]) -> tuple[int, float, float]:
    """Frames produced, wall seconds, and CPU seconds (this process's threads plus child processes)."""

    def cpu() -> float:
        own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime

    start, cpu_start = time.perf_counter(), cpu()
    frames = run()
    return frames, time.perf_counter() - start, cpu() - cpu_start


def ffmpeg_cli(ffmpeg: str, source: Path, width: int, height: int) -> int:
    """Frames the ffmpeg CLI decodes and scales to ``width``×``height`` RGB, piped into this process."""
    command = [ffmpeg, "-v", "error", "-threads", "0", "-i", str(source)]
    command += ["-vf", f"scale={width}:{height}:flags=area", "-pix_fmt", "rgb24", "-f", "rawvideo", "pipe:1"]
    frame_bytes = width * height * 3
    received = 0
    with subprocess.Popen(command, stdout=subprocess.PIPE) as process:
        while chunk := process.stdout.read(1 << 22):
            received += len(chunk)
    if process.returncode:
        raise RuntimeError(f"ffmpeg failed with exit code {process.returncode}")
    return received // frame_bytes


def naive_pyav(source: Path, width: int, height: int) -> int:
    """The loop most code starts with: no decoder threads, a new scaler for every frame."""
    count = 0
    with av.open(str(source)) as container:
        for frame in container.decode(video=0):
            frame.reformat(width, height, "rgb24", interpolation="AREA").to_ndarray()
            count += 1
    return count


def ours_full(source: Path, width: int, height: int) -> int:
    """Every frame through our decoder (threaded decode, one cached scaler)."""
    return sum(1 for _ in iter_video_frames(source, width, height, interpolation="AREA"))


def ours_bucket_windows(source: Path, starts: list[float]) -> int:
    """What the pipeline really does: seek to each clip window and decode only the bucket's frames."""
    return sum(len(decode_clip(source, BUCKET, fps=24, start=start)) for start in starts)


def throughput(args: argparse.Namespace) -> dict:
    source = make_video(args.cache_dir / f"bench-{args.seconds:g}s-720p.mp4", args.seconds, 1280, 720)
    width, height = cover_size(1280, 720, BUCKET.width, BUCKET.height)
    with av.open(str(source)) as container:
        total = container.streams.video[0].frames
    print(f"source: {source} ({total} frames, 1280x720 H.264); scaled to {width}x{height} RGB (bucket {BUCKET.label})")
    results: dict[str, dict] = {}
    ffmpeg = find_ffmpeg()
    if ffmpeg is None:
        print("ffmpeg: NOT FOUND (pip install -e '.[bench]' or apt-get install ffmpeg); no reference ratio")
    methods: list[tuple[str, Callable[[], int]]] = []
    if ffmpeg:
        methods.append(("ffmpeg CLI (decode + scale, piped)", lambda: ffmpeg_cli(ffmpeg, source, width, height)))
    methods += [
        ("naive PyAV loop", lambda: naive_pyav(source, width, height)),
        ("ltx-pipelines, every frame", lambda: ours_full(source, width, height)),
    ]
    last_start = max(0.0, args.seconds - BUCKET.frames / 24 - 0.5)
    windows = [round(last_start * k / 3, 2) for k in range(4)]
    methods.append((f"ltx-pipelines, 1 bucket window ({BUCKET.label})", lambda: ours_bucket_windows(source, [0.0])))
    methods.append(
        (f"ltx-pipelines, {len(windows)} scene windows (seek)", lambda: ours_bucket_windows(source, windows))
    )
    for name, run in methods:
        runs = [timed(run) for _ in range(args.repeat)]
        frames, seconds, _ = min(runs, key=lambda r: r[1])
        results[name] = {
            "frames": frames,
            "seconds": round(seconds, 3),
            "fps": round(frames / seconds, 1),
            "cpu_ms_per_frame": round(1000 * min(r[2] for r in runs) / frames, 2),
        }
    reference = results.get(next(iter(results))) if ffmpeg else None
    header = f"{'method':<46}{'frames':>7}{'seconds':>9}{'frames/s':>10}{'vs ffmpeg':>11}"
    print(f"\n{header}{'CPU ms/frame':>14}{'vs ffmpeg':>11}")
    for name, row in results.items():
        row["ratio"] = round(row["fps"] / reference["fps"], 2) if reference else None
        row["cpu_ratio"] = round(reference["cpu_ms_per_frame"] / row["cpu_ms_per_frame"], 2) if reference else None
        ratio = f"{row['ratio']:.2f}x" if reference else "n/a"
        cpu_ratio = f"{row['cpu_ratio']:.2f}x" if reference else "n/a"
        print(
            f"{name:<46}{row['frames']:>7}{row['seconds']:>9.2f}{row['fps']:>10.1f}{ratio:>11}"
            f"{row['cpu_ms_per_frame']:>14.2f}{cpu_ratio:>11}"
        )
    if reference:
        print(f"\ntime to get a clip's frames, vs the ffmpeg CLI decoding the file ({reference['seconds']:.2f} s):")
        for name, _ in methods[-2:]:
            row = results[name]
            print(f"  {name}: {row['seconds']:.2f} s ({reference['seconds'] / row['seconds']:.1f}x faster)")
        print("(frames/s is wall-clock throughput; CPU ms/frame is the work per frame, steadier on a busy machine)")
    return results


def long_video_rss(args: argparse.Namespace) -> dict:
    """Probe, scene-split and extract frames from a 10-minute 1080p file in a fresh process; report its peak RSS."""
    # No grain here: this measures memory, and a grainy 10-minute 1080p file takes half an hour to encode on 2 cores.
    source = make_video(args.cache_dir / "bench-600s-1080p.mp4", 600, 1920, 1080, preset="ultrafast", grain=0)
    command = [sys.executable, "-m", "bench.frame_extraction", "--rss-child", str(source)]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    report = json.loads(output.strip().splitlines()[-1])
    if report["quarantined"] or not report["clips"]:
        raise RuntimeError(f"the long video was not processed: {report['quarantined']}")
    print(
        f"\n10 min 1080p ({report['frames']} frames): probe {report['probe_s']:.1f} s, scene split "
        f"{report['scenes_s']:.1f} s ({report['scenes']} scenes), {report['clips']} clips decoded in "
        f"{report['frames_s']:.1f} s; peak RSS {report['peak_rss_mb']:.0f} MB (limit 2048 MB: "
        f"{'PASS' if report['peak_rss_mb'] < 2048 else 'FAIL'})"
    )
    return report


def _rss_child(source: Path) -> None:
    from ltx_pipelines.clips import plan_clips
    from ltx_pipelines.config import DatasetSpec, SceneSpec
    from ltx_pipelines.dataset import scan_dataset
    from ltx_pipelines.frames import extract_frames

    # The source cuts every 5 s (120 frames): a 97-frame bucket takes those scenes.
    buckets = [BUCKET, Bucket(width=BUCKET.width, height=BUCKET.height, frames=97)]
    spec = DatasetSpec(buckets=buckets, scenes=SceneSpec(enabled=True, max_clips_per_video=8))
    with tempfile.TemporaryDirectory(dir=source.parent) as cache:
        folder = Path(cache) / "dataset"
        folder.mkdir()
        os.link(source, folder / source.name)  # a hard link: a symlink out of the dataset would be quarantined
        started = time.perf_counter()
        scan = scan_dataset(folder, spec.model_copy(update={"deduplicate": False}))
        probed = time.perf_counter()
        clips = plan_clips(scan.clips, spec, Path(cache) / "scenes")
        planned = time.perf_counter()
        frames = extract_frames(clips.clips, spec, Path(cache) / "frames")
        done = time.perf_counter()
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    report = {
        "frames": scan.clips[0].info.frame_count if scan.clips else 0,
        "probe_s": probed - started,
        "scenes_s": planned - probed,
        "scenes": len(clips.clips),
        "clips": frames.decoded,
        "frames_s": done - planned,
        "peak_rss_mb": peak_kb / 1024,
        "quarantined": [q.to_dict() for q in scan.quarantined + clips.quarantined + frames.quarantined],
    }
    print(json.dumps(report))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.frame_extraction", description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=40.0, help="length of the 720p source (default 40)")
    parser.add_argument("--repeat", type=int, default=2, help="runs per method; the fastest counts")
    parser.add_argument("--long", action="store_true", help="also measure peak RSS on a 10-minute 1080p video")
    parser.add_argument("--json", action="store_true", help="print the results as JSON at the end")
    parser.add_argument(
        "--cache-dir",
        type=Path,
        default=Path(os.environ.get("LTX_BENCH_CACHE", Path(tempfile.gettempdir()) / "ltx-pipelines-bench")),
    )
    parser.add_argument("--rss-child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.rss_child:
        _rss_child(args.rss_child)
        return 0
    args.cache_dir.mkdir(parents=True, exist_ok=True)
    results = {"throughput": throughput(args)}
    if args.long:
        results["long_video"] = long_video_rss(args)
    if args.json:
        print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
