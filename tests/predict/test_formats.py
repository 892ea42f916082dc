"""Output formats of predictions (ser_jax.predict.formats)."""

from __future__ import annotations

from ser_jax import predict
from ser_jax.predict import formats


def test_table_output_is_aligned_with_one_column_per_class():
    names = ["angry", "calm"]
    preds = [predict.Prediction("a.wav", "calm", {"angry": 0.25, "calm": 0.75}, 1.0),
             predict.Prediction("long/name.flac", "angry", {"angry": 0.9, "calm": 0.1}, 3.25)]
    lines = formats.format_table(preds, names).splitlines()
    assert lines[0].split() == ["file", "emotion", "angry", "calm", "seconds"]
    assert lines[1].split() == ["a.wav", "calm", "0.250", "0.750", "1.00"]
    assert lines[0].index("emotion") == lines[1].index("calm") == lines[2].index("angry")
    assert len({len(line) for line in lines}) == 1


def _timeline() -> predict.Timeline:
    names = ("angry", "calm")

    def seg(a, b, p, q):
        return predict.Segment(a, b, names[p < 0.5], {"angry": p, "calm": 1 - p}, names[q < 0.5],
                               {"angry": q, "calm": 1 - q})

    return predict.Timeline("talk.wav", 3725.5, ((0.5, 3.0), (3661.0, 3664.0)),
                            (seg(0.5, 2.5, 0.8, 0.7), seg(1.5, 3.0, 0.4, 0.6), seg(3661.0, 3664.0, 0.1, 0.1)), names)


def test_subtitles_show_the_smoothed_emotion_in_cues_that_never_overlap():
    vtt = formats.subtitles(_timeline(), "vtt").splitlines()
    assert vtt[:2] == ["WEBVTT", ""]
    assert vtt[2:5] == ["00:00:00.500 --> 00:00:01.500", "angry (0.70)", ""]  # ends where the next begins
    assert vtt[5:7] == ["00:00:01.500 --> 00:00:03.000", "angry (0.60)"]
    assert vtt[8] == "01:01:01.000 --> 01:01:04.000" and vtt[9] == "calm (0.90)"
    srt = formats.subtitles(_timeline(), "srt").splitlines()
    assert srt[:3] == ["1", "00:00:00,500 --> 00:00:01,500", "angry (0.70)"]
    assert srt[4] == "2" and srt[8] == "3"


def test_timeline_csv_and_json_hold_every_segment_raw_and_smoothed():
    import csv
    import io
    import json

    tl = _timeline()
    rows = list(csv.DictReader(io.StringIO(formats.render_timelines([tl, tl], "csv"))))
    assert len(rows) == 6 and rows[0]["path"] == "talk.wav"
    assert set(rows[0]) == {"path", "start", "end", "emotion", "angry", "calm", "smoothed_emotion",
                            "smoothed_angry", "smoothed_calm"}
    assert float(rows[1]["smoothed_calm"]) == 0.4 and rows[1]["emotion"] == "calm"
    back = json.loads(formats.render_timelines([tl], "json"))
    assert back[0]["segments"][2]["start"] == 3661.0 and back[0]["speech"][1] == [3661.0, 3664.0]
    table = formats.render_timelines([tl], "table").splitlines()
    assert table[0].startswith("# talk.wav: 3725.5 s, 5.5 s of speech in 2 stretch(es), 3 segment(s)")
    assert table[1].split() == ["start", "end", "emotion", "angry", "calm", "smoothed"]


def test_subtitles_take_one_recording_and_files_take_no_subtitles():
    import pytest

    with pytest.raises(ValueError, match="one recording"):
        formats.render_timelines([_timeline(), _timeline()], "srt")
    with pytest.raises(ValueError, match="--timeline"):
        formats.render([], ["angry"], "vtt")
