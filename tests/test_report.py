"""Run reports: metrics, the classification report, confusion-matrix images, fold aggregates."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.metrics import balanced_accuracy_score, f1_score

from ser_jax import report
from ser_jax.report import (
    LEAKY_PREFIX,
    aggregate_metrics,
    classification_report_text,
    compute_metrics,
    confusion_matrix_image,
    confusion_title,
    format_summary,
    plot_confusion_matrix,
)

EMOTIONS8 = ["angry", "calm", "disgust", "fearful", "happy", "neutral", "sad", "surprised"]

# Three classes, hand-checked: confusion rows (true) a: [2, 1, 0], b: [0, 1, 1], c: [0, 0, 1].
Y_TRUE = [0, 0, 0, 1, 1, 2]
Y_PRED = [0, 0, 1, 1, 2, 2]


def test_metrics_match_hand_computed_values():
    m = compute_metrics(Y_TRUE, Y_PRED, ["a", "b", "c"])
    assert m["confusion_matrix"] == [[2, 1, 0], [0, 1, 1], [0, 0, 1]]
    assert m["accuracy"] == pytest.approx(4 / 6)
    # precision a 2/2, b 1/2, c 1/2; recall a 2/3, b 1/2, c 1/1; f1 a 0.8, b 0.5, c 2/3
    assert m["per_class"]["a"] == pytest.approx({"precision": 1.0, "recall": 2 / 3, "f1": 0.8, "support": 3})
    assert m["per_class"]["b"] == pytest.approx({"precision": 0.5, "recall": 0.5, "f1": 0.5, "support": 2})
    assert m["per_class"]["c"] == pytest.approx({"precision": 0.5, "recall": 1.0, "f1": 2 / 3, "support": 1})
    assert m["macro_f1"] == pytest.approx((0.8 + 0.5 + 2 / 3) / 3)
    assert m["weighted_f1"] == pytest.approx((3 * 0.8 + 2 * 0.5 + 1 * 2 / 3) / 6)
    assert m["uar"] == pytest.approx((2 / 3 + 1 / 2 + 1) / 3)
    assert m["label_names"] == ["a", "b", "c"] and m["n"] == 6
    json.dumps(m)  # plain Python types only


def test_uar_is_balanced_accuracy():
    rng = np.random.default_rng(0)
    y_true = rng.integers(0, 8, 300)
    y_pred = np.where(rng.random(300) < 0.6, y_true, rng.integers(0, 8, 300))
    m = compute_metrics(y_true, y_pred, EMOTIONS8)
    assert m["uar"] == pytest.approx(balanced_accuracy_score(y_true, y_pred))
    assert m["macro_f1"] == pytest.approx(f1_score(y_true, y_pred, average="macro"))


def test_class_in_the_map_but_absent_everywhere_is_listed_but_not_averaged():
    # e.g. a song-only run scored with the 8-emotion map: no disgust, no surprised.
    m3 = compute_metrics(Y_TRUE, Y_PRED, ["a", "b", "c"])
    m4 = compute_metrics(Y_TRUE, Y_PRED, ["a", "b", "c", "d"])
    assert m4["per_class"]["d"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0}
    assert np.array(m4["confusion_matrix"]).shape == (4, 4)
    assert m4["averaged_over"] == ["a", "b", "c"]
    for k in ("accuracy", "macro_f1", "weighted_f1", "uar"):
        assert m4[k] == pytest.approx(m3[k])


def test_class_predicted_but_absent_from_targets_does_not_crash_and_counts_as_sklearn_does():
    y_true, y_pred = [0, 0, 1, 1], [0, 2, 1, 1]
    with np.errstate(all="raise"):
        m = compute_metrics(y_true, y_pred, ["a", "b", "c"])
    assert m["per_class"]["c"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0}
    assert m["uar"] == pytest.approx(0.75)  # recall over classes that have targets: (1/2 + 1) / 2
    assert m["macro_f1"] == pytest.approx(f1_score(y_true, y_pred, average="macro", zero_division=0))


def test_labels_outside_the_map_or_mismatched_lengths_are_refused():
    with pytest.raises(ValueError, match="y_pred holds label 3, outside the label map 0..2"):
        compute_metrics([0, 1], [0, 3], ["a", "b", "c"])
    with pytest.raises(ValueError, match="y_true has 2 labels but y_pred has 1"):
        compute_metrics([0, 1], [0], ["a", "b", "c"])


def test_report_text_is_sklearns_with_emotion_names():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 8, 100)
    text = classification_report_text(y, np.roll(y, 1), EMOTIONS8)
    for name in EMOTIONS8 + ["macro avg", "weighted avg", "accuracy", "precision", "recall", "f1-score"]:
        assert name in text
    assert LEAKY_PREFIX not in text
    assert f"{compute_metrics(y, np.roll(y, 1), EMOTIONS8)['macro_f1']:.4f}" in text


def test_report_text_of_a_leaky_run_begins_with_the_warning_and_names_absent_classes():
    text = classification_report_text(Y_TRUE, Y_PRED, ["a", "b", "c", "d"], leaky=True)
    assert text.startswith(LEAKY_PREFIX)
    assert "left out of the averages): d" in text


def test_titles_and_summaries_of_leaky_runs_begin_with_the_warning():
    assert confusion_title("seed 0", leaky=True).startswith(LEAKY_PREFIX)
    assert confusion_title("seed 0", leaky=True, normalize=True).startswith(LEAKY_PREFIX)
    assert confusion_title("seed 0") == "seed 0"
    assert report.format_title("seed 0", leaky=True) == f"{LEAKY_PREFIX}: seed 0"
    assert report.format_title("seed 0", leaky=False) == "seed 0"
    m = compute_metrics(Y_TRUE, Y_PRED, ["a", "b", "c"])
    leaky = format_summary(m, leaky=True, protocol="seed_leaky")
    honest = format_summary(m, leaky=False, protocol="holdout")
    assert leaky.startswith(LEAKY_PREFIX) and "LEAKY" not in honest
    assert "accuracy 66.67%" in honest and "UAR 72.22%" in honest and "holdout" in honest


def test_confusion_png_is_written_and_readable(tmp_path):
    import matplotlib.image

    cm = compute_metrics(Y_TRUE, Y_PRED, ["a", "b", "c"])["confusion_matrix"]
    for normalize in (False, True):
        path = tmp_path / "sub" / f"cm_{normalize}.png"
        plot_confusion_matrix(cm, ["a", "b", "c"], path, "test", normalize=normalize, leaky=True)
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        img = matplotlib.image.imread(path)
        assert img.ndim == 3 and img.shape[0] > 300 and img.shape[1] > 300
        assert img[..., :3].std() > 0.05  # something is drawn


def test_confusion_image_is_hwc_uint8_and_shows_the_numbers():
    cm = np.diag([10, 20, 30, 40, 50, 60, 70, 80])
    img = confusion_matrix_image(cm, EMOTIONS8, "eight classes")
    assert img.dtype == np.uint8 and img.ndim == 3 and img.shape[2] == 3
    other = confusion_matrix_image(cm.T[::-1], EMOTIONS8, "eight classes")
    assert img.shape == other.shape and not np.array_equal(img, other)
    with pytest.raises(ValueError, match=r"\(8, 8\) but there are 3 label names"):
        confusion_matrix_image(cm, ["a", "b", "c"], "wrong")


def test_aggregate_has_mean_std_per_class_and_summed_matrix():
    fold0 = compute_metrics([0, 0, 1, 1], [0, 0, 1, 1], ["a", "b"])  # all right
    fold1 = compute_metrics([0, 0, 1, 1], [0, 1, 1, 0], ["a", "b"])  # half right
    agg = aggregate_metrics([fold0, fold1])
    assert agg["n_folds"] == 2 and agg["label_names"] == ["a", "b"]
    assert agg["accuracy"] == pytest.approx({"mean": 0.75, "std": np.std([1.0, 0.5], ddof=1)})
    assert agg["per_class_f1"]["a"] == pytest.approx({"mean": 0.75, "std": np.std([1.0, 0.5], ddof=1)})
    assert agg["confusion_matrix"] == [[3, 1], [1, 3]]
    assert agg["pooled"] == pytest.approx({"accuracy": 0.75, "uar": 0.75})
    assert [f["accuracy"] for f in agg["per_fold"]] == [1.0, 0.5]
    assert aggregate_metrics([fold1])["accuracy"] == {"mean": 0.5, "std": 0.0}
    summary = format_summary(agg, leaky=False, protocol="actor_kfold")
    assert "2 folds" in summary and "accuracy 75.00 +- 35.36%" in summary


def test_aggregate_refuses_folds_with_different_label_maps():
    with pytest.raises(ValueError, match="label map"):
        aggregate_metrics([compute_metrics([0], [0], ["a", "b"]), compute_metrics([0], [0], ["b", "a"])])
    with pytest.raises(ValueError, match="no folds"):
        aggregate_metrics([])


@pytest.mark.parametrize("leaky", [True, False])
def test_write_run_report_leaves_the_run_files(tmp_path, leaky):
    m = report.write_run_report(
        tmp_path, Y_TRUE, Y_PRED, ["a", "b", "c"], leaky=leaky, protocol="seed_leaky" if leaky else "holdout",
        title="tiny run", extra={"epochs": 3, "seconds": np.float32(1.5)},
    )
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert saved == m | {"seconds": 1.5} and saved["leaky"] is leaky and saved["epochs"] == 3
    text = (tmp_path / "report.txt").read_text()
    assert text.startswith(LEAKY_PREFIX) == leaky and "macro avg" in text
    assert (tmp_path / "confusion_matrix.png").stat().st_size > 0
    assert (tmp_path / "confusion_matrix_normalized.png").stat().st_size > 0


def test_write_aggregate_report(tmp_path):
    folds = [compute_metrics([0, 0, 1, 1], p, ["a", "b"]) for p in ([0, 0, 1, 1], [0, 1, 1, 0])]
    agg = report.write_aggregate_report(tmp_path, folds, leaky=False, protocol="actor_kfold", title="k-fold")
    assert json.loads((tmp_path / "metrics.json").read_text())["n_folds"] == 2 == agg["n_folds"]
    text = (tmp_path / "report.txt").read_text()
    assert text.startswith("k-fold") and "fold 1: accuracy 50.00%" in text
    assert (tmp_path / "confusion_matrix.png").exists()
    assert not (tmp_path / "training_curves.png").exists()  # no history given, no curves


def test_training_curves_are_drawn_from_the_history(tmp_path):
    history = [{"epoch": e, "train_loss": 1 / e, "val_loss": 1.2 / e, "train_accuracy": 1 - 1 / (e + 1),
                "val_accuracy": 0.9 - 1 / (e + 1)} for e in range(1, 6)]
    report.write_run_report(tmp_path, Y_TRUE, Y_PRED, ["a", "b", "c"], leaky=False, protocol="holdout",
                            title="tiny run", extra={"history": history, "best_epoch": 4})
    from matplotlib.image import imread

    image = imread(tmp_path / "training_curves.png")
    assert image.shape[0] > 300 and image.shape[1] > 800 and image[..., :3].std() > 0  # drawn, not blank
