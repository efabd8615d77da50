"""The tiny model writer, read back with gguf's own reader (no llama-server needed)."""

from pathlib import Path

import gguf
import numpy as np

from tests.realserver.tiny_gguf import CHAT_TEMPLATE, N_LAYER, vocabulary, write_tiny_model


def field_text(reader: gguf.GGUFReader, key: str) -> str:
    field = reader.get_field(key)
    assert field is not None, key
    return bytes(field.parts[field.data[0]]).decode()


def test_the_tiny_model_is_a_small_llama_with_a_chat_template(tmp_path: Path) -> None:
    path = write_tiny_model(tmp_path / "m.gguf", name="m", seed=3)
    assert path.stat().st_size < 1_000_000
    reader = gguf.GGUFReader(path)
    assert field_text(reader, "general.architecture") == "llama"
    assert field_text(reader, "general.name") == "m"
    assert field_text(reader, "tokenizer.chat_template") == CHAT_TEMPLATE
    names = {t.name for t in reader.tensors}
    assert {"token_embd.weight", "output.weight", f"blk.{N_LAYER - 1}.ffn_down.weight"} <= names


def test_every_byte_has_a_token_and_only_printable_text_can_be_said(tmp_path: Path) -> None:
    tokens, _, types = vocabulary()
    assert len(tokens) == len(set(tokens)) < 400
    assert all(f"<0x{b:02X}>" in tokens for b in range(256))
    reader = gguf.GGUFReader(write_tiny_model(tmp_path / "m.gguf"))
    output = next(t for t in reader.tensors if t.name == "output.weight")
    weights = np.asarray(output.data).reshape(len(tokens), -1)
    sayable = np.array([t == gguf.TokenType.NORMAL for t in types])
    assert (weights[~sayable, 0] < 0).all() and (weights[sayable, 0] == 0).all()


def test_seeds_give_different_weights(tmp_path: Path) -> None:
    one = write_tiny_model(tmp_path / "a.gguf", seed=1).read_bytes()
    two = write_tiny_model(tmp_path / "b.gguf", seed=2).read_bytes()
    assert len(one) == len(two) and one != two
