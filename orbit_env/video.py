"""Writing rendered frames as a video: GIF with Pillow (always there, it comes with matplotlib), MP4 with
imageio-ffmpeg's bundled ffmpeg (``pip install -e ".[video]"``; offline once installed)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

SUFFIXES = (".gif", ".mp4")
MAX_FRAMES = 240  # default frame budget of an episode video (``frame_every``)


def frame_every(steps: int, max_frames: int = MAX_FRAMES) -> int:
    """Steps between frames so that an episode of ``steps`` makes at most ``max_frames`` frames."""
    return max(1, -(-steps // max_frames))


def check_video_path(path: str) -> None:
    """ValueError unless ``path`` names a .gif, or an .mp4 with imageio-ffmpeg installed."""
    suffix = Path(path).suffix.lower()
    if suffix not in SUFFIXES:
        raise ValueError(f"{path}: a video must be a {' or '.join(SUFFIXES)} file")
    if suffix == ".mp4":
        if importlib.util.find_spec("imageio_ffmpeg") is None:
            raise ValueError(f"{path}: MP4 needs imageio-ffmpeg (pip install -e \".[video]\"); or write a .gif")


def write_video(frames: list[np.ndarray], path: str, fps: float = 8.0) -> None:
    """Write (H, W, 3) uint8 frames to ``path`` (.gif or .mp4)."""
    check_video_path(path)
    if not frames:
        raise ValueError(f"{path}: no frames to write")
    if Path(path).suffix.lower() == ".gif":
        from PIL import Image

        images = [Image.fromarray(f) for f in frames]
        images[0].save(path, save_all=True, append_images=images[1:], duration=int(1000 / fps), loop=0)
        return
    import imageio_ffmpeg

    h, w = frames[0].shape[:2]
    writer = imageio_ffmpeg.write_frames(path, (w, h), fps=fps, macro_block_size=1, output_params=["-pix_fmt", "yuv420p"])
    writer.send(None)
    for f in frames:
        writer.send(np.ascontiguousarray(f))
    writer.close()
