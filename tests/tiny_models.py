"""A tiny randomly initialised GPT-2 with a word-level tokenizer and a chat template,
saved as a normal model directory: the real transformers loading and generation
path runs on it in well under a second."""

from pathlib import Path

# Neutral words only: generated text must never spell a model name by chance.
VOCAB_WORDS = (
    "the a an and or but if then so very more less good bad fast slow red green blue sun moon rain tree river "
    "stone bird fish cat dog house door road city field cloud wind fire water light dark warm cold open close "
    "up down left right one two three four five six seven eight nine ten yes no maybe here there now later "
    "user assistant system : ."
).split()
CHAT_TEMPLATE = (
    "{% for m in messages %}{{ m['role'] }} : {{ m['content'] }} . {% endfor %}"
    "{% if add_generation_prompt %}assistant :{% endif %}"
)


def build_tiny_chat_model(directory, seed=0):
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

    directory = Path(directory)
    specials = ["<unk>", "<pad>", "<eos>"]
    vocab = {token: i for i, token in enumerate(specials + VOCAB_WORDS)}
    backend = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend, unk_token="<unk>", pad_token="<pad>", eos_token="<eos>"
    )
    tokenizer.chat_template = CHAT_TEMPLATE

    torch.manual_seed(seed)
    config = GPT2Config(
        vocab_size=len(vocab),
        n_positions=512,
        n_embd=32,
        n_layer=2,
        n_head=2,
        bos_token_id=vocab["<eos>"],
        eos_token_id=vocab["<eos>"],
        pad_token_id=vocab["<pad>"],
    )
    model = GPT2LMHeadModel(config)
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory
