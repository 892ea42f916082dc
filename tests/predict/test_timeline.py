"""Emotions over time (ser_jax.predict.timeline) on a synthetic long recording whose truth is known:
clips of the tiny corpus, of different emotions, joined with silences of known length.

What a user relies on: speech is found where it is (boundaries within TOLERANCE_S of each clip's own
speech), every clip's speech is judged, a segment gets exactly the probabilities of a file holding
its samples, the answer does not depend on the block size or the batch size, ensembles and speaker-
normalised models work, and an unreadable recording is one line while the others go on.
"""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from ser_jax import audio, predict
from ser_jax.predict import TimelineConfig
from ser_jax.testing import recordings

from .helpers import SR, _test_clips

pytestmark = pytest.mark.xdist_group("predict_runs")

TOLERANCE_S = 0.05  # speech boundaries: the energy frames are 25 ms, every 10 ms
PROBS_ATOL = 1e-5  # a segment against the same samples predicted as a file (float32 on one CPU)
PAUSES = [1.5, 2.0, 1.0, 1.25]


@pytest.fixture(scope="module")
def long_recording(run, tmp_path_factory):
    """Four test clips of four different emotions, 1 s of silence first, PAUSES after each."""
    _, _, metrics = run
    clips, seen = [], set()
    for path, label in zip(_test_clips(run, 10**6), metrics["test_predictions"]["y_true"]):
        if label not in seen and len(clips) < 4:
            seen.add(label)
            clips.append(path)
    out = tmp_path_factory.mktemp("timeline") / "long.wav"
    placed = recordings.join(clips, PAUSES, out, SR, lead=1.0)
    return out, placed


def _probs(items):
    return np.asarray([list(x.probabilities.values()) for x in items])


def _segments_as_files(path, tl, folder):
    """Each segment's samples of the recording as a file of its own (16-bit, as the recording: bit-exact)."""
    samples, sr = sf.read(path, dtype="int16")
    files = []
    for i, s in enumerate(tl.segments):
        files.append(folder / f"segment_{i}.wav")
        sf.write(files[-1], samples[round(s.start * sr) : round(s.end * sr)], sr, subtype="PCM_16")
    return files


def test_speech_is_found_where_each_clip_speaks_and_every_clip_is_covered(predictor, long_recording):
    path, placed = long_recording
    tl = predictor.timeline(path)
    assert isinstance(tl, predict.Timeline) and tl.seconds == pytest.approx(placed[-1].stop / SR + PAUSES[-1])
    assert tl.label_names == predictor.label_names and tl.note == ""
    for clip in placed:
        first, last = recordings.speech_extent(clip.source)
        true_start, true_end = clip.start / SR + first, clip.start / SR + last
        inside = [(a, b) for a, b in tl.speech if clip.start / SR <= a and b <= clip.stop / SR]
        assert inside, f"no speech found in {clip.source}"
        assert abs(inside[0][0] - true_start) <= TOLERANCE_S and abs(inside[-1][1] - true_end) <= TOLERANCE_S
        # every sample of the clip's speech lies in some segment the model judged
        grid = np.arange(true_start, true_end, 0.01)
        covered = np.zeros(len(grid), bool)
        for s in tl.segments:
            covered |= (grid >= s.start) & (grid <= s.end)
        assert covered.all()
    # no stretch of speech runs across a pause, and the segments come in time order
    assert len(tl.speech) >= len(placed)
    assert all(any(c.start / SR <= a and b <= c.stop / SR for c in placed) for a, b in tl.speech)
    starts = [s.start for s in tl.segments]
    assert starts == sorted(starts) and all(s.end - s.start <= 1.0 + 1e-9 for s in tl.segments)


def test_a_segment_gets_the_probabilities_of_a_file_holding_its_samples(predictor, long_recording, tmp_path):
    path, _ = long_recording
    tl = predictor.timeline(path)
    as_files = predictor.predict_files(_segments_as_files(path, tl, tmp_path))
    np.testing.assert_allclose(_probs(tl.segments), _probs(as_files), atol=PROBS_ATOL)
    assert [s.emotion for s in tl.segments] == [p.emotion for p in as_files]


def test_the_timeline_does_not_depend_on_the_block_size_or_the_batch_size(run, predictor, long_recording):
    path, _ = long_recording
    whole = predictor.timeline(path, TimelineConfig(block_seconds=1000.0))
    assert sf.info(path).duration > 10 * 0.37
    blocked = predictor.timeline(path, TimelineConfig(block_seconds=0.37))
    assert [(s.start, s.end) for s in blocked.segments] == [(s.start, s.end) for s in whole.segments]
    assert blocked.speech == whole.speech
    np.testing.assert_array_equal(_probs(blocked.segments), _probs(whole.segments))
    one_at_a_time = predict.load(run[1], batch_size=1).timeline(path)
    np.testing.assert_allclose(_probs(one_at_a_time.segments), _probs(whole.segments), atol=PROBS_ATOL)


def test_files_predicted_in_a_batch_equal_files_predicted_one_at_a_time(run, predictor):
    clips = _test_clips(run, 5)
    batched = predictor.predict_files(clips)
    single = [predict.load(run[1], batch_size=1).predict_file(c) for c in clips[:1]] + [
        predictor.predict_file(c) for c in clips[1:]]
    np.testing.assert_allclose(_probs(batched), _probs(single), atol=PROBS_ATOL)


def test_the_smoothed_track_averages_segments_within_the_window(predictor, long_recording):
    path, _ = long_recording
    raw = predictor.timeline(path, TimelineConfig(smooth=0.0))
    np.testing.assert_array_equal(raw.probabilities(smoothed=True), raw.probabilities())
    tl = predictor.timeline(path, TimelineConfig(smooth=3.0))
    centres = np.asarray([(s.start + s.end) / 2 for s in tl.segments])
    i = len(centres) // 2
    near = np.abs(centres - centres[i]) <= 1.5
    np.testing.assert_allclose(tl.probabilities(smoothed=True)[i], tl.probabilities()[near].mean(axis=0), atol=1e-6)
    assert tl.segments[i].smoothed_emotion == tl.label_names[int(np.argmax(tl.probabilities(smoothed=True)[i]))]


def test_a_speaker_normalised_model_scales_a_recording_by_its_own_segments(speaker_run, long_recording, tmp_path):
    path, _ = long_recording
    model = predict.load(speaker_run[1])
    tl = model.timeline(path)
    files = _segments_as_files(path, tl, tmp_path)
    # the same samples as files, all of them one speaker: the same statistics
    np.testing.assert_allclose(_probs(tl.segments), _probs(predict.load(speaker_run[1]).predict_files(files)),
                               atol=PROBS_ATOL)
    # one short stretch of speech: statistics from that segment alone, and the timeline says so
    clip = _test_clips(speaker_run, 1)[0]
    first, _ = recordings.speech_extent(clip)
    pcm, _ = sf.read(clip, dtype="int16")
    short = tmp_path / "short.wav"  # 0.5 s of speech (0.9 s with 0.2 s of context each side) between silences: one window of this 1-s model
    sf.write(short, np.concatenate([np.zeros(SR // 2, np.int16), pcm[int(first * SR) : int((first + 0.5) * SR)],
                                    np.zeros(SR // 2, np.int16)]), SR, subtype="PCM_16")
    few = model.timeline(short, TimelineConfig(context=0.2))
    assert len(few.segments) == 1 and "segment alone" in few.note


def test_an_ensemble_timeline_is_the_mean_of_its_members(run, speaker_run, long_recording):
    path, _ = long_recording
    a, b = predict.load(run[1]).timeline(path), predict.load(speaker_run[1]).timeline(path)
    both = predict.load([run[1], speaker_run[1]]).timeline(path)
    assert isinstance(predict.load([run[1], speaker_run[1]]), predict.Ensemble)
    np.testing.assert_allclose(_probs(both.segments), (_probs(a.segments) + _probs(b.segments)) / 2, atol=1e-6)


def test_unreadable_recordings_are_one_line_and_the_others_go_on(predictor, long_recording, tmp_path):
    path, _ = long_recording
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"not audio at all")
    silent = tmp_path / "silent.wav"
    sf.write(silent, np.zeros(3 * SR, np.float32), SR)
    results = predictor.timelines([bad, path, silent])
    assert isinstance(results[0], predict.PredictionError) and "\n" not in results[0].message
    assert isinstance(results[1], predict.Timeline) and results[1].segments
    assert results[2].segments == () and "no speech" in results[2].note
    with pytest.raises(audio.AudioError, match="bad.wav"):
        predictor.timeline(bad)
