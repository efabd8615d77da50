"""A tiny llama-architecture GGUF model that a real llama-server loads in milliseconds.

Its vocabulary is a SentencePiece ("llama") one of about 360 tokens: the control tokens, the
256 byte tokens (so any text tokenizes) and printable ASCII one character each, so a prompt
of N characters is about N tokens. Its chat template is ChatML. The weights are random but
shaped so that answers are printable ASCII only: the first embedding dimension is a large
constant, and every token the model must not say (bytes, controls, end of sequence) has a
large negative weight on it in the output layer. The answers are gibberish of exactly
`max_tokens` tokens (finish "length"); the tests check the harness, not the scores.
"""

from pathlib import Path

import gguf
import numpy as np

CHAT_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n"
    "{{ message['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
CONTROL_TOKENS = ("<s>", "</s>", "<|im_start|>", "<|im_end|>")
SPACE = "\u2581"  # SentencePiece's visible space

N_EMBD = 64
N_HEAD = 4
N_FF = 128
N_LAYER = 2
CONTEXT_LENGTH = 16384
"""n_ctx_train: what -c defaults to, and the most a test may ask for."""


def vocabulary() -> tuple[list[str], list[float], list[int]]:
    """Tokens, scores and token types: <unk>, the controls, the bytes, printable ASCII."""
    tokens = ["<unk>", *CONTROL_TOKENS]
    types = [gguf.TokenType.UNKNOWN, *[gguf.TokenType.CONTROL] * len(CONTROL_TOKENS)]
    tokens += [f"<0x{b:02X}>" for b in range(256)]
    types += [gguf.TokenType.BYTE] * 256
    tokens += [SPACE, *(chr(c) for c in range(0x21, 0x7F))]
    types += [gguf.TokenType.NORMAL] * (1 + 0x7F - 0x21)
    scores = [0.0 if t != gguf.TokenType.NORMAL else -1.0 for t in types]
    return tokens, scores, [int(t) for t in types]


def write_tiny_model(path: Path, *, name: str = "tiny", seed: int = 0) -> Path:
    """Write the model to `path` (a .gguf file, about 0.5 MB); `seed` varies the weights,
    `name` is its general.name."""
    tokens, scores, types = vocabulary()
    rng = np.random.default_rng(seed)
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_name(name)
    writer.add_context_length(CONTEXT_LENGTH)
    writer.add_embedding_length(N_EMBD)
    writer.add_block_count(N_LAYER)
    writer.add_feed_forward_length(N_FF)
    writer.add_head_count(N_HEAD)
    writer.add_head_count_kv(N_HEAD)
    writer.add_rope_dimension_count(N_EMBD // N_HEAD)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_file_type(gguf.LlamaFileType.ALL_F32)
    writer.add_tokenizer_model("llama")
    writer.add_token_list(tokens)
    writer.add_token_scores(scores)
    writer.add_token_types(types)
    writer.add_unk_token_id(0)
    writer.add_bos_token_id(tokens.index("<s>"))
    writer.add_eos_token_id(tokens.index("</s>"))
    writer.add_add_bos_token(True)
    writer.add_chat_template(CHAT_TEMPLATE)
    for tensor_name, array in _tensors(rng, types).items():
        writer.add_tensor(tensor_name, array)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def _tensors(rng: np.random.Generator, types: list[int]) -> dict[str, np.ndarray]:
    """Weights in numpy's (out, in) order; the gguf writer turns them into ggml's."""
    n_vocab = len(types)

    def small(*shape: int) -> np.ndarray:
        return (rng.standard_normal(shape) * 0.02).astype(np.float32)

    embedding = rng.standard_normal((n_vocab, N_EMBD)).astype(np.float32)
    embedding[:, 0] = 8.0  # the constant channel the output layer keys on
    output = rng.standard_normal((n_vocab, N_EMBD)).astype(np.float32)
    sayable = np.array([t == gguf.TokenType.NORMAL for t in types])
    output[:, 0] = np.where(sayable, 0.0, -8.0)
    tensors = {
        "token_embd.weight": embedding,
        "output_norm.weight": np.ones(N_EMBD, dtype=np.float32),
        "output.weight": output,
    }
    for block in range(N_LAYER):
        prefix = f"blk.{block}."
        tensors |= {
            prefix + "attn_norm.weight": np.ones(N_EMBD, dtype=np.float32),
            prefix + "attn_q.weight": small(N_EMBD, N_EMBD),
            prefix + "attn_k.weight": small(N_EMBD, N_EMBD),
            prefix + "attn_v.weight": small(N_EMBD, N_EMBD),
            prefix + "attn_output.weight": small(N_EMBD, N_EMBD),
            prefix + "ffn_norm.weight": np.ones(N_EMBD, dtype=np.float32),
            prefix + "ffn_gate.weight": small(N_FF, N_EMBD),
            prefix + "ffn_up.weight": small(N_FF, N_EMBD),
            prefix + "ffn_down.weight": small(N_EMBD, N_FF),
        }
    return tensors
