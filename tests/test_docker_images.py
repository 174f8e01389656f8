"""The Docker images install what the native commands install (issue 17): the inference worker's
image has the llama.cpp extra (requirements-llama.txt, as `./prefarena setup --llama`), the web image
does not pay for it. Read from the files themselves; building the images is not part of the tests."""

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = (ROOT / "docker" / "Dockerfile").read_text()
COMPOSE = yaml.safe_load((ROOT / "docker" / "compose.yaml").read_text())


def stages():
    """{stage name: (parent, its instructions)} of the multi-stage Dockerfile."""
    found, name = {}, None
    for line in DOCKERFILE.splitlines():
        match = re.match(r"FROM\s+(\S+)\s+AS\s+(\S+)", line, re.IGNORECASE)
        if match:
            name = match.group(2)
            found[name] = (match.group(1), [])
        elif name and not line.lstrip().startswith("#"):
            found[name][1].append(line)
    return found


def lineage(stage):
    """The instructions a stage runs, its parents' first."""
    all_stages = stages()
    text = []
    while stage in all_stages:
        parent, lines = all_stages[stage]
        text = lines + text
        stage = parent
    return "\n".join(text)


def test_the_inference_image_installs_the_llama_extra_and_the_web_image_does_not():
    inference, app = lineage("inference"), lineage("app")
    for image in (inference, app):
        assert "pip install --no-cache-dir -r requirements.txt" in image
    assert "pip install --no-cache-dir -r requirements-llama.txt" in inference
    assert "COPY requirements-llama.txt" in inference
    assert "requirements-llama" not in app
    # The build can be switched off, as a native setup without --llama.
    assert 'ARG INSTALL_LLAMA=1' in inference


def test_compose_builds_the_inference_worker_and_the_setup_job_from_the_inference_image():
    services = COMPOSE["services"]
    for name in ("worker-inference", "setup"):
        assert services[name]["build"]["target"] == "inference", name
    for name in ("web", "worker-ranking", "beat"):
        assert services[name]["build"]["target"] == "app", name
    assert services["worker-inference"]["build"]["args"]["INSTALL_LLAMA"] == "${INSTALL_LLAMA:-1}"


def test_the_requirements_the_images_install_exist():
    for line in DOCKERFILE.splitlines():
        for name in re.findall(r"COPY\s+(requirements[\w-]*\.txt)", line):
            assert (ROOT / name).is_file(), name
