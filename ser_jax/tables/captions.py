"""What every table says besides its numbers: the caption sentences, the LEAKY footnote, escaping.

Shared by the metric tables and the per-emotion report, in Markdown and LaTeX alike, so both
formats say the same thing. The protocol a caption names is read from the runs' metrics.json,
not from the spec, since that is what the numbers really came from.
"""

from __future__ import annotations

from ser_jax.experiments.spec import METRIC_TITLES
from ser_jax.tables.results import SUB_ROW, Results

DAGGER_NOTE = ("LEAKY: early stopping chose the epoch on the test set itself (the original notebook's "
               "protocol), so these scores are optimistic; they are not eligible for best.")
PROTOCOL_NOTES = {
    "seed_leaky": "the original stratified 80/20 split with early stopping on the test set (LEAKY)",
    "holdout": "the original 80/20 test split, the epoch chosen on a validation part of the training set",
    "speaker_kfold": "speaker-independent k-fold over speakers (test speakers unseen in training and validation)",
    "speakers": "explicit train/validation/test speaker lists (speaker-independent)",
    "loso": "leave-one-speaker-out (each speaker tested once, unseen in training and validation)",
    "emobox": "EmoBox's fixed RAVDESS speech folds (the folds whose test actors the data has)",
    "cross_corpus": "train and validate on the other corpora, test on every file of one corpus (shared emotions)",
}


def pct(x: float) -> str:
    return f"{100 * x:.1f}"


def caption(results: Results) -> list[str]:
    """Plain-text caption sentences: the spec's caption, what the numbers are, and the protocol
    every row's runs really used (read from their metrics.json)."""
    spec = results.spec
    seeds = ", ".join(map(str, spec.seeds))
    parts = [spec.caption.strip()] if spec.caption.strip() else []
    if spec.kind == "metrics":
        what = ", ".join(METRIC_TITLES[m] for m in spec.metrics)
        parts.append(f"{what[0].upper()}{what[1:]} in %, mean ± sample std over {len(spec.seeds)} training seeds "
                     f"({seeds}); a k-fold "
                     "run counts as one sample (its mean over folds); (n=k): only k seeds finished; -: not run yet. "
                     "Bold: best of each column.")
    if any(row.name.endswith(f"{SUB_ROW}ensemble") for row in spec.rows):
        parts.append("An ensemble row scores the mean probabilities of its row's finished seeds as one model "
                     "(one value): on the test clips, and on the validation clips where the runs kept them (its "
                     "validation accuracy, comparable with a single run's, since each seed's epoch was chosen "
                     "there too; -: runs from before validation probabilities were kept).")
    members = [row for row in spec.rows if row.members]
    if members:
        parts.append("An ensemble of rows (" + "; ".join(f"{row.label}: {' + '.join(row.members)}" for row in members)
                     + ") trains nothing: for each seed where every member row finished, it scores the plain mean "
                     "of the members' class probabilities (members may use different feature recipes), on the "
                     "test clips and on the validation clips.")
    protos = {row.name: results.protocols(row) for row in spec.rows}
    used = sorted({p for ps in protos.values() for p in ps})
    if len(used) == 1:  # rows without finished runs show "-" and need no protocol
        parts.append(f"Protocol: {used[0]} ({PROTOCOL_NOTES.get(used[0], used[0])}).")
    elif used:
        per_row = "; ".join(
            f"{row.label}: " + (", ".join(f"{p} ({PROTOCOL_NOTES.get(p, p)})" for p in protos[row.name])
                                or "not run yet") for row in spec.rows)
        parts.append(f"Protocols: {per_row}.")
    else:
        parts.append("Protocol: no run has finished yet.")
    return parts


def md_escape(text: str) -> str:
    return text.replace("|", r"\|")


_LATEX_ESCAPES = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
                  "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "±": r"$\pm$",
                  "†": r"$^\dagger$"}


def latex_escape(text: str) -> str:
    return "".join(_LATEX_ESCAPES.get(ch, ch) for ch in text)
