"""The model.bin reader (ser_jax.encoders._ct2): every variable, its dtype and alias round trip; a truncated
file is one error.
"""

from __future__ import annotations

import numpy as np
import pytest

from ser_jax.encoders import _ct2 as ct2
from ser_jax.testing.encoders import tiny_whisper_variables


def test_model_bin_round_trips_every_variable_its_dtype_and_its_alias(tmp_path):
    v = tiny_whisper_variables(layers=1)
    data = ct2.write("WhisperSpec", v, aliases={"decoder/projection/weight": "decoder/embeddings/weight"})
    spec, read = ct2.read(data)
    assert spec == "WhisperSpec"
    assert set(read) == set(v) | {"decoder/projection/weight"}
    for name, value in v.items():
        assert read[name].dtype == value.dtype and read[name].shape == value.shape
        np.testing.assert_array_equal(read[name], value)
    assert read["encoder/num_heads"].shape == () and int(read["encoder/num_heads"]) == 2
    np.testing.assert_array_equal(read["decoder/projection/weight"], v["decoder/embeddings/weight"])


@pytest.mark.parametrize("cut", [3, 100, -7])
def test_a_truncated_model_bin_is_one_error_naming_the_file(tiny_bin, cut):
    data = tiny_bin.read_bytes()
    with pytest.raises(ct2.ModelFileError, match="cut.bin: .*(truncated|left after)"):
        ct2.read(data[:cut] if cut > 0 else data + b"\0" * -cut, "cut.bin")
