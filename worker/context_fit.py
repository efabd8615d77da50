"""Does a prompt fit the server's context? Pure checks on exact token counts.

The counts come from the server itself (`LlmClient.count_prompt_tokens`: its chat template
and tokenizer), the context per slot from its `/props` at submit. b4748 cuts a prompt that
does not fit silently (context shift) and answers what is left as if it were the question;
newer builds refuse it. Either way the answer would say nothing about the model, so the
unit ends as our configuration's error (`InfraStage.CONTEXT`), never scored, and
`jqbench resume` tries it again once the server has more context.
"""

from typing import Any

#: Tokens a cut prompt may fall short of the count before it is called cut: a BOS token
#: counted on one side and not the other.
CUT_TOLERANCE = 2

FIX = ("give each slot more context (llama-server -c N --parallel P: each slot gets N/P), "
       "or lower max_tokens, then `jqbench resume` the run")


def prompt_does_not_fit(counted: int | None, max_tokens: int, n_ctx: int | None,
                        embeds_code: bool) -> str | None:
    """Why this prompt cannot be asked, or None (also when a count is unknown).

    A prompt on its own (no earlier answer's code in it) must leave room for `max_tokens`;
    one that embeds code must at least fit, since the model may answer shorter.
    """
    if counted is None or not n_ctx:
        return None
    if counted >= n_ctx:
        return (f"the prompt is {counted} tokens and the server's context per slot is "
                f"{n_ctx}: it would be cut; {FIX}")
    if not embeds_code and counted + max_tokens > n_ctx:
        return (f"the prompt ({counted} tokens) plus max_tokens ({max_tokens}) exceeds the "
                f"server's context per slot ({n_ctx}); {FIX}")
    return None


def prompt_was_cut(counted: int | None, usage: dict[str, Any] | None) -> str | None:
    """Why the answer must not be scored when the server read fewer prompt tokens than the
    prompt has (context shift cut it), or None."""
    reported = (usage or {}).get("prompt_tokens")
    if counted is None or not isinstance(reported, int):
        return None
    if reported + CUT_TOLERANCE >= counted:
        return None
    return (f"the server cut the prompt: it read {reported} of its {counted} tokens, and "
            f"answered the rest as if it were the question; {FIX}")


def chained_worst_case(bare_counts: dict[str, int], max_tokens: int, n_ctx: int | None
                       ) -> str | None:
    """A warning when a chained level's prompt, once it embeds an earlier answer's code of up
    to `max_tokens` tokens, leaves less than `max_tokens` for the answer; None if it fits.
    `bare_counts`: chained level -> tokens of its prompt without the embedded code."""
    if not n_ctx:
        return None
    short = {level: count + 2 * max_tokens for level, count in bare_counts.items()
             if count + 2 * max_tokens > n_ctx}
    if not short:
        return None
    worst = ", ".join(f"{level} up to {tokens}" for level, tokens in sorted(short.items()))
    return (f"chained prompts may not fit the server's context per slot ({n_ctx} tokens): "
            f"{worst} tokens with the earlier answer's code and max_tokens ({max_tokens}); "
            "such a unit would end as a context error")
