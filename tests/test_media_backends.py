"""Image backends against real things: a tiny random-weight diffusers pipeline built here and loaded
through the real backend from its directory, and a loopback OpenAI-compatible image server that
checks the exact payload it is sent."""

import base64
import hashlib
import io
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest
from PIL import Image, PngImagePlugin

from inference import media, services
from inference.backends import get_backend
from inference.backends.base import GenerationError
from inference.models import ModelEndpoint, Prompt, Response
from tests.tiny_diffusion import TINY_IMAGE_PARAMS, build_tiny_text_to_image


@pytest.fixture(scope="session")
def tiny_pipeline_dir(tmp_path_factory):
    return build_tiny_text_to_image(tmp_path_factory.mktemp("tiny-sd") / "pipeline")


@pytest.fixture
def media_root(settings, tmp_path):
    root = tmp_path / "media"
    settings.STORAGES = {
        **settings.STORAGES,
        "prefarena_media": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(root), "base_url": None},
        },
    }
    return root


def _user(text):
    return [{"role": "user", "content": text}]


def test_diffusers_backend_draws_seeded_images_in_a_batch(tiny_pipeline_dir):
    backend = get_backend("diffusers")
    params = {**TINY_IMAGE_PARAMS, "seed": 7}
    first = backend.generate_batch(str(tiny_pipeline_dir), [_user("a red cat"), _user("a blue dog")], params)
    assert [g.seed for g in first] == [7, 7]
    assert all(g.image.size == (16, 16) and g.image.mode == "RGB" for g in first)
    again = backend.generate(str(tiny_pipeline_dir), _user("a red cat"), params)
    # the same prompt and seed give the same picture, in a batch or alone (float noise aside)
    difference = np.abs(np.asarray(again.image, dtype=int) - np.asarray(first[0].image, dtype=int))
    assert difference.max() <= 2
    # without a fixed seed each answer gets its own, recorded
    free = backend.generate_batch(str(tiny_pipeline_dir), [_user("a cat"), _user("a cat")], TINY_IMAGE_PARAMS)
    assert all(isinstance(g.seed, int) for g in free) and free[0].seed != free[1].seed


def test_diffusers_backend_names_a_bad_directory(tmp_path):
    with pytest.raises(GenerationError, match="no model_index.json"):
        get_backend("diffusers").generate(str(tmp_path), _user("a cat"), TINY_IMAGE_PARAMS)


@pytest.mark.django_db
def test_image_answers_are_generated_stored_and_recorded(tiny_pipeline_dir, media_root):
    endpoint = ModelEndpoint.objects.create(
        name="zephyrine-qx7",
        backend="diffusers",
        output_kind="image",
        path=str(tiny_pipeline_dir),
        generation_params={**TINY_IMAGE_PARAMS, "seed": 11},
    )
    prompts = [Prompt.objects.create(conversation=_user(text)) for text in ("a red cat", "a green tree")]
    responses = [
        Response.objects.create(prompt=p, endpoint=endpoint, generation_params=endpoint.generation_params)
        for p in prompts
    ]
    assert services.generate_responses_together([r.pk for r in responses]) == 2
    for response in responses:
        response.refresh_from_db()
        assert (response.status, response.kind, response.seed) == ("done", "image", 11)
        assert (response.media_width, response.media_height, response.media_format) == (16, 16, "png")
        assert "zephyrine" not in response.media_name
        data = (media_root / response.media_name).read_bytes()
        assert hashlib.sha256(data).hexdigest() == response.media_sha256
    # one at a time, too (the arena's path)
    single = Response.objects.create(
        prompt=prompts[0], endpoint=endpoint, generation_params={**TINY_IMAGE_PARAMS}
    )
    services.generate_response(single.pk)
    single.refresh_from_db()
    assert single.status == "done" and single.media_name and single.seed is not None


# --- the OpenAI-compatible image API ---------------------------------------------------------------


def png_bytes(color, text_chunk=None):
    out = io.BytesIO()
    info = PngImagePlugin.PngInfo()
    if text_chunk:
        info.add_text("parameters", text_chunk)
    Image.new("RGB", (24, 24), color).save(out, format="PNG", pnginfo=info)
    return out.getvalue()


class ImageServer(BaseHTTPRequestHandler):
    """Records each request; answers one PNG that names the model in a text chunk (to be stripped)."""

    requests = []

    def log_message(self, *args):
        pass

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).requests.append(
            (self.path, self.headers.get("Content-Type"), self.headers.get("Authorization"), body)
        )
        image = base64.b64encode(png_bytes((0, 200, 0), "made by zephyrine-qx7")).decode()
        payload = json.dumps({"created": 1, "data": [{"b64_json": image}]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


@pytest.fixture
def image_server():
    ImageServer.requests = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), ImageServer)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1", ImageServer.requests
    server.shutdown()
    server.server_close()


def test_openai_images_generations_payload(image_server, monkeypatch):
    url, seen = image_server
    monkeypatch.setenv("IMAGE_KEY", "sk-test")
    backend = get_backend("openai", api_model="flux-small", api_key_env="IMAGE_KEY", output_kind="image")
    result = backend.generate(url, _user("a lighthouse at dawn"), {"width": 512, "height": 256, "seed": 3})
    (path, content_type, auth, body) = seen[0]
    assert path == "/v1/images/generations"
    assert content_type == "application/json" and auth == "Bearer sk-test"
    assert json.loads(body) == {
        "model": "flux-small",
        "prompt": "a lighthouse at dawn",
        "n": 1,
        "response_format": "b64_json",
        "size": "512x256",
        "seed": 3,
    }
    assert result.seed == 3 and result.image.startswith(b"\x89PNG")


@pytest.mark.django_db
def test_openai_images_edits_sends_the_prompt_image(image_server, media_root):
    url, seen = image_server
    endpoint = ModelEndpoint.objects.create(
        name="zephyrine-qx7", backend="openai", output_kind="image", path=url, api_model="editor"
    )
    prompt = Prompt.objects.create(conversation=_user("make the square green"))
    (input_image,) = media.attach_prompt_images(prompt, [png_bytes((200, 0, 0))])
    response = Response.objects.create(prompt=prompt, endpoint=endpoint)
    services.generate_response(response.pk)
    response.refresh_from_db()
    assert response.status == "done", response.error
    (path, content_type, _, body) = seen[0]
    assert path == "/v1/images/edits"
    assert content_type.startswith("multipart/form-data; boundary=")
    boundary = content_type.split("boundary=")[1].encode()
    parts = [p for p in body.split(b"--" + boundary) if p.strip(b"-\r\n")]
    fields = {}
    for part in parts:
        head, _, value = part.strip(b"\r\n").partition(b"\r\n\r\n")
        name = head.split(b'name="')[1].split(b'"')[0].decode()
        fields[name] = (head, value)
    assert {k: v[1] for k, v in fields.items() if k != "image"} == {
        "model": b"editor",
        "prompt": b"make the square green",
        "n": b"1",
        "response_format": b"b64_json",
    }
    assert b"Content-Type: image/png" in fields["image"][0]
    assert fields["image"][1] == (media_root / input_image.media_name).read_bytes()
    # the answer is stored stripped of the server's text chunk
    stored = (media_root / response.media_name).read_bytes()
    assert b"zephyrine" not in stored and response.media_format == "png"
    assert Image.open(io.BytesIO(stored)).getpixel((1, 1)) == (0, 200, 0)


@pytest.mark.django_db
def test_a_server_that_answers_no_image_fails_the_answer_with_a_sentence(media_root):
    class Broken(ImageServer):
        def do_POST(self):
            self.rfile.read(int(self.headers["Content-Length"]))
            payload = b'{"data": [{"url": "http://example.invalid/x.png"}]}'
            self.send_response(200)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Broken)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        endpoint = ModelEndpoint.objects.create(
            name="painter",
            backend="openai",
            output_kind="image",
            path=f"http://127.0.0.1:{server.server_address[1]}/v1",
        )
        response = Response.objects.create(
            prompt=Prompt.objects.create(conversation=_user("a cat")), endpoint=endpoint
        )
        services.generate_response(response.pk)
        response.refresh_from_db()
        assert response.status == "failed" and "b64_json" in response.error
        assert not media_root.exists() or not any(media_root.rglob("*.*"))
    finally:
        server.shutdown()
        server.server_close()


class VisionChatServer(BaseHTTPRequestHandler):
    requests = []

    def log_message(self, *args):
        pass

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).requests.append((self.path, json.loads(body)))
        payload = json.dumps(
            {
                "choices": [{"message": {"role": "assistant", "content": "A yellow square."}}],
                "usage": {"prompt_tokens": 90, "completion_tokens": 4},
            }
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


@pytest.mark.django_db
def test_vision_chat_sends_prompt_images_as_image_url_parts(media_root, tiny_model_dirs):
    VisionChatServer.requests = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), VisionChatServer)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        vision = ModelEndpoint.objects.create(
            name="seer",
            backend="openai",
            path=f"http://127.0.0.1:{server.server_address[1]}/v1",
            api_model="vlm",
        )
        prompt = Prompt.objects.create(conversation=_user("What is in the picture?"))
        (image,) = media.attach_prompt_images(prompt, [png_bytes((250, 250, 0), "secret generator")])
        response = Response.objects.create(
            prompt=prompt, endpoint=vision, generation_params={"temperature": 0}
        )
        services.generate_response(response.pk)
        response.refresh_from_db()
        assert (response.status, response.text, response.kind) == ("done", "A yellow square.", "text")
        path, body = VisionChatServer.requests[0]
        assert path == "/v1/chat/completions"
        stored = (media_root / image.media_name).read_bytes()
        assert body["messages"] == [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What is in the picture?"},
                    {
                        "type": "image_url",
                        "image_url": {"url": "data:image/png;base64," + base64.b64encode(stored).decode()},
                    },
                ],
            }
        ]
        assert b"secret generator" not in stored
        # a local text model cannot read the image: the answer fails with a sentence, nothing is sent
        local = ModelEndpoint.objects.create(name="texty", path=str(tiny_model_dirs[0]))
        blind = Response.objects.create(prompt=prompt, endpoint=local)
        services.generate_response(blind.pk)
        blind.refresh_from_db()
        assert blind.status == "failed" and "reads text only" in blind.error
    finally:
        server.shutdown()
        server.server_close()
