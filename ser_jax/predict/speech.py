"""Where a long recording has speech: frame energies read block by block, then a threshold.

Voice activity from energy, as ``librosa.effects.split`` finds it (a frame is speech when it is
within ``top_db`` of the recording's loudest frame), with an absolute floor (a recording of room
noise has no speech) and the two rules speech needs: a short dip between words is not a pause
(``min_pause``), and a click is not speech (``min_speech``). Energy-based detection is what studio
and interview recordings need; in loud background noise it finds the noise too (a learned VAD
would be the next step; none that is well kept runs without PyTorch or ONNX).

The recording is never held whole: ``frame_power`` takes its mono samples in blocks of any size and
gives the same frames whatever the blocks (a test checks it), so memory is one block plus one
float per 10 ms of audio (about 3 MB an hour).
"""

from __future__ import annotations

import dataclasses
import math
import os
from typing import Iterable, Iterator

import numpy as np
import soundfile as sf

from ser_jax import audio

FRAME_SECONDS = 0.025  # energy frames: 25 ms ...
HOP_SECONDS = 0.010  # ... every 10 ms


@dataclasses.dataclass(frozen=True)
class Recording:
    """A recording's energy track: one mean square per frame, at the file's own rate."""

    path: str
    sample_rate: int  # the file's native rate; frames and spans below count its samples
    num_samples: int
    power: np.ndarray  # (frames,) mean square of the mono signal in each frame
    frame: int  # samples per frame
    hop: int  # samples between frame starts

    @property
    def seconds(self) -> float:
        return self.num_samples / self.sample_rate


def frame_power(blocks: Iterable[np.ndarray], frame: int, hop: int) -> np.ndarray:
    """Mean square of every ``frame`` samples, every ``hop`` samples, of the concatenated mono blocks.

    Frames start at 0, hop, 2 hop, ...; the last one may be short (the recording's tail, averaged over
    what there is). Each frame is computed from its own samples alone, so the block sizes do not
    change the result.
    """
    out: list[np.ndarray] = []
    carry = np.zeros(0, np.float32)
    for block in blocks:
        buf = np.concatenate([carry, np.asarray(block, np.float32)])
        if len(buf) >= frame:
            count = 1 + (len(buf) - frame) // hop
            windows = np.lib.stride_tricks.sliding_window_view(buf, frame)[::hop][:count]
            out.append(np.mean(np.square(windows, dtype=np.float64), axis=1))
            carry = buf[count * hop:]
        else:
            carry = buf
    total = sum(len(o) for o in out)
    if len(carry) > frame - hop or total == 0:  # samples no full frame covered
        tail = carry[:frame]
        out.append(np.asarray([np.mean(np.square(tail, dtype=np.float64)) if len(tail) else 0.0]))
    return np.concatenate(out)


def read_blocks(path: str, block_frames: int) -> Iterator[np.ndarray]:
    """The file's mono float32 samples (channel mean, as ser_jax.audio loads a clip), block by block."""
    with sf.SoundFile(path) as f:
        while True:
            data = f.read(block_frames, dtype="float32", always_2d=True)
            if not len(data):
                return
            y = data.mean(axis=1)
            yield y if np.all(np.isfinite(y)) else np.nan_to_num(y, nan=0.0, posinf=0.0, neginf=0.0)


def read(path: str | os.PathLike, block_seconds: float = 30.0) -> Recording:
    """A recording's energy track, read in blocks of ``block_seconds``; audio.AudioError if unreadable."""
    path = audio.check_file(path)
    try:
        info = sf.info(path)
        sr, frames = info.samplerate, info.frames
        blocks = read_blocks(path, max(1, int(round(block_seconds * sr))))
        frame, hop = max(1, round(FRAME_SECONDS * sr)), max(1, round(HOP_SECONDS * sr))
        counted = 0

        def counting() -> Iterator[np.ndarray]:
            nonlocal counted
            for block in blocks:
                counted += len(block)
                yield block

        power = frame_power(counting(), frame, hop)
    except audio.AudioError:
        raise
    except Exception as e:  # libsndfile raises several types; callers need one reason, not a traceback
        raise audio.AudioError(f"cannot decode: {audio.one_line(e)}") from e
    if counted == 0:
        raise audio.AudioError("empty audio (0 samples)")
    if frames > 0 and counted != frames:
        raise audio.AudioError(f"damaged: {counted} of its {frames} frames could be read")
    return Recording(path, sr, counted, power, frame, hop)


def regions(rec: Recording, top_db: float, floor_db: float, min_pause: float, min_speech: float
            ) -> list[tuple[int, int]]:
    """(first, stop) samples of each stretch of speech: frames within ``top_db`` of the loudest and
    above ``floor_db`` dBFS, gaps shorter than ``min_pause`` seconds closed, stretches shorter than
    ``min_speech`` seconds dropped."""
    db = 10.0 * np.log10(rec.power + 1e-20)
    loud = (db > db.max() - top_db) & (db > floor_db)
    if not loud.any():
        return []
    edges = np.flatnonzero(np.diff(np.concatenate([[False], loud, [False]]).astype(np.int8)))
    runs = [(int(a) * rec.hop, min(rec.num_samples, int(b - 1) * rec.hop + rec.frame))
            for a, b in zip(edges[::2], edges[1::2])]
    merged = [runs[0]]
    for a, b in runs[1:]:
        if a - merged[-1][1] < min_pause * rec.sample_rate:
            merged[-1] = (merged[-1][0], b)
        else:
            merged.append((a, b))
    return [(a, b) for a, b in merged if b - a >= min_speech * rec.sample_rate]


def quietest(rec: Recording, first: int, stop: int) -> int:
    """The sample at the centre of the quietest frame lying within [first, stop) (a cut between words)."""
    i0 = math.ceil(first / rec.hop)
    i1 = max(i0 + 1, min(len(rec.power), (stop - rec.frame) // rec.hop + 1))
    i = i0 + int(np.argmin(rec.power[i0:i1])) if i0 < len(rec.power) else i0
    return min(max(first, i * rec.hop + rec.frame // 2), stop - 1)
