"""Any OpenAI-compatible chat completions API (vLLM, TGI, llama.cpp's server, Ollama, …).

Standard library only. Streaming (server-sent events), a timeout per request,
retries with exponential backoff on refused connections, timeouts, 429 and 5xx
(honouring Retry-After), and a limit on requests in flight per endpoint in this
process. The API key is read from the environment variable the endpoint names, at
call time; it never appears in an error message."""

import json
import os
import random
import socket
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

from .base import Backend, Generation, GenerationError, user_text_and_images

_RETRY_STATUSES = {408, 409, 425, 429, 500, 502, 503, 504}
_semaphores: dict[str, threading.BoundedSemaphore] = {}
_semaphores_lock = threading.Lock()
BACKOFF_BASE_S = float(os.environ.get("INFERENCE_HTTP_BACKOFF_S", "0.5"))
BACKOFF_MAX_S = 20.0


class _StreamOptionsRejected(GenerationError):
    """The server refused ``stream_options`` (an older or strict OpenAI-compatible server)."""


class _Retryable(GenerationError):
    def __init__(self, message, retry_after=None):
        super().__init__(message)
        self.retry_after = retry_after


def endpoint_slots(url, limit):
    """The semaphore that caps requests in flight to one endpoint (per process)."""
    with _semaphores_lock:
        key = (url, limit)
        if key not in _semaphores:
            _semaphores[key] = threading.BoundedSemaphore(limit)
        return _semaphores[key]


def chat_completions_url(base_url):
    base = base_url.rstrip("/")
    if base.endswith("/chat/completions"):
        return base
    return base + "/chat/completions"


def request_body(model, conversation, params, stream):
    messages = list(conversation)
    if params.get("system_prompt"):
        messages = [{"role": "system", "content": params["system_prompt"]}, *messages]
    body = {
        "model": model,
        "messages": messages,
        "max_tokens": int(params.get("max_new_tokens", 256)),
        "temperature": float(params.get("temperature", 0.7)),
        "stream": stream,
    }
    if float(params.get("temperature", 0.7)) > 0 and "top_p" in params:
        body["top_p"] = float(params["top_p"])
    if "seed" in params:
        body["seed"] = int(params["seed"])
    if params.get("min_new_tokens"):
        body["min_tokens"] = int(params["min_new_tokens"])  # vLLM extension
    if params.get("stop"):
        body["stop"] = list(params["stop"])
    if params.get("repetition_penalty"):
        body["repetition_penalty"] = float(params["repetition_penalty"])  # vLLM / TGI extension
    if stream:
        # Without it llama.cpp's server (and OpenAI's) send no usage in a stream.
        body["stream_options"] = {"include_usage": True}
    return body


class OpenAIHTTPBackend(Backend):
    def __init__(
        self,
        api_model="default",
        api_key_env="",
        timeout_s=120,
        max_retries=3,
        max_concurrency=4,
        output_kind="text",
        **options,
    ):
        super().__init__(**options)
        self.output_kind = output_kind
        self.api_model = api_model
        self.api_key_env = api_key_env
        self.timeout_s = float(timeout_s)
        self.max_retries = int(max_retries)
        self.max_concurrency = max(1, int(max_concurrency))

    def _headers(self):
        headers = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
        if self.api_key_env:
            key = os.environ.get(self.api_key_env)
            if not key:
                raise GenerationError(
                    f"The environment variable {self.api_key_env}, named as this endpoint's API key, "
                    "is not set on this worker."
                )
            headers["Authorization"] = f"Bearer {key}"
        return headers

    def generate(self, path, conversation, params=None, on_text=None, device="auto"):
        params = params or {}
        if self.output_kind == "image":
            return self.generate_image(path, conversation, params)
        stream = on_text is not None
        body = request_body(self.api_model, conversation, params, stream)
        headers = self._headers()

        def build(body):
            return urllib.request.Request(
                chat_completions_url(path), data=json.dumps(body).encode(), headers=headers, method="POST"
            )

        request = build(body)
        attempt = 0
        while True:
            emitted = [False]

            def emit(text, emitted=emitted):  # this attempt's flag: a retry starts a fresh one
                emitted[0] = True
                on_text(text)

            try:
                with endpoint_slots(path, self.max_concurrency):
                    return self._once(request, stream, emit if stream else None)
            except _StreamOptionsRejected:
                if "stream_options" not in body:
                    raise
                body = {k: v for k, v in body.items() if k != "stream_options"}  # ask again, without usage
                request = build(body)
            except _Retryable as exc:
                # Once text has been shown, a retry would make it jump back: fail instead.
                if attempt >= self.max_retries or emitted[0]:
                    tries = f"after {attempt + 1} attempt{'s' if attempt else ''}"
                    raise GenerationError(f"{exc} (gave up {tries}).") from None
                delay = exc.retry_after if exc.retry_after is not None else BACKOFF_BASE_S * 2**attempt
                time.sleep(min(BACKOFF_MAX_S, delay) * (1 + random.random() * 0.1))
                attempt += 1

    def generate_batch(self, path, conversations, params=None, device="auto"):
        """The requests go out in parallel (the server batches them), at most max_concurrency at once."""
        conversations = list(conversations)
        if not conversations:
            return []
        with ThreadPoolExecutor(max_workers=min(len(conversations), self.max_concurrency)) as pool:
            return list(pool.map(lambda c: self.generate(path, c, params, device=device), conversations))

    def generate_image(self, path, conversation, params):
        """One image from ``/v1/images/generations``, or ``/v1/images/edits`` when the prompt carries
        input images (multipart, the images as files). The answer is read from ``b64_json``."""
        text, images = user_text_and_images(conversation)
        if not text.strip():
            raise GenerationError("The prompt has no text to draw.")
        body = image_request_body(self.api_model, text, params)
        headers = self._headers()
        if images:
            data, content_type = multipart_body(body, [decode_image_part(url) for url in images])
            headers = {**headers, "Content-Type": content_type}
            url = images_url(path, edit=True)
        else:
            data, url = json.dumps(body).encode(), images_url(path, edit=False)
        request = urllib.request.Request(url, data=data, headers=headers, method="POST")
        attempt = 0
        while True:
            try:
                with endpoint_slots(path, self.max_concurrency):
                    with self._open(request) as response:
                        raw = response.read()
                break
            except _Retryable as exc:
                if attempt >= self.max_retries:
                    raise GenerationError(f"{exc} (gave up after {attempt + 1} attempts).") from None
                delay = exc.retry_after if exc.retry_after is not None else BACKOFF_BASE_S * 2**attempt
                time.sleep(min(BACKOFF_MAX_S, delay) * (1 + random.random() * 0.1))
                attempt += 1
            except (TimeoutError, ConnectionError, OSError) as exc:
                raise GenerationError(f"The connection to the endpoint broke: {exc}") from None
        return Generation(
            text="", prompt_tokens=None, completion_tokens=0, image=_parse_image(raw), seed=body.get("seed")
        )

    def _open(self, request):
        """The open HTTP response, or our errors: _Retryable for what a retry may cure."""
        try:
            return urllib.request.urlopen(request, timeout=self.timeout_s)
        except urllib.error.HTTPError as exc:
            detail = _error_detail(exc)
            if exc.code in _RETRY_STATUSES:
                raise _Retryable(
                    f"The endpoint answered HTTP {exc.code}{detail}", _retry_after(exc)
                ) from None
            raise GenerationError(f"The endpoint answered HTTP {exc.code}{detail}.") from None
        except urllib.error.URLError as exc:
            if isinstance(exc.reason, (socket.timeout, TimeoutError)):
                raise _Retryable(f"The endpoint did not answer within {self.timeout_s:g} s") from None
            raise _Retryable(f"Could not reach the endpoint at {request.full_url}: {exc.reason}") from None
        except TimeoutError:
            raise _Retryable(f"The endpoint did not answer within {self.timeout_s:g} s") from None
        except (ConnectionError, OSError) as exc:
            raise _Retryable(f"Could not reach the endpoint at {request.full_url}: {exc}") from None

    def _once(self, request, stream, on_text):
        started = time.monotonic()
        try:
            response = urllib.request.urlopen(request, timeout=self.timeout_s)
        except urllib.error.HTTPError as exc:
            detail = _error_detail(exc)
            if exc.code in (400, 422) and "stream_options" in detail:
                raise _StreamOptionsRejected(f"The endpoint answered HTTP {exc.code}{detail}.") from None
            if exc.code in _RETRY_STATUSES:
                raise _Retryable(
                    f"The endpoint answered HTTP {exc.code}{detail}", _retry_after(exc)
                ) from None
            raise GenerationError(f"The endpoint answered HTTP {exc.code}{detail}.") from None
        except urllib.error.URLError as exc:
            reason = exc.reason
            if isinstance(reason, (socket.timeout, TimeoutError)):
                raise _Retryable(f"The endpoint did not answer within {self.timeout_s:g} s") from None
            raise _Retryable(f"Could not reach the endpoint at {request.full_url}: {reason}") from None
        except TimeoutError:
            raise _Retryable(f"The endpoint did not answer within {self.timeout_s:g} s") from None
        except (ConnectionError, OSError) as exc:
            raise _Retryable(f"Could not reach the endpoint at {request.full_url}: {exc}") from None
        with response:
            try:
                if stream and "text/event-stream" in (response.headers.get("Content-Type") or ""):
                    return self._read_stream(response, on_text, started)
                raw = response.read()
            except TimeoutError:
                raise _Retryable(f"The endpoint stopped sending for {self.timeout_s:g} s") from None
            except (ConnectionError, OSError) as exc:
                raise _Retryable(f"The connection to the endpoint broke: {exc}") from None
        generation = _parse_completion(raw)
        if on_text is not None and generation.text:
            on_text(generation.text)
        return generation

    def _read_stream(self, response, on_text, started):
        text, usage, chunks = "", None, 0
        for raw_line in response:
            if time.monotonic() - started > self.timeout_s:
                raise GenerationError(f"The answer took longer than {self.timeout_s:g} s.")
            line = raw_line.decode("utf-8", "replace").strip()
            if not line or line.startswith(":") or not line.startswith("data:"):
                continue
            data = line[5:].strip()
            if data == "[DONE]":
                break
            try:
                event = json.loads(data)
            except json.JSONDecodeError:
                raise GenerationError(
                    f"The endpoint streamed something that is not JSON: {data[:200]!r}"
                ) from None
            if not isinstance(event, dict):
                raise GenerationError(f"The endpoint streamed an unexpected event: {data[:200]!r}")
            if event.get("error"):
                raise GenerationError(
                    f"The endpoint reported an error mid-answer: {str(event['error'])[:300]}"
                )
            if event.get("usage"):
                usage = event["usage"]
            for choice in event.get("choices") or []:
                piece = (choice.get("delta") or {}).get("content") or ""
                if piece:
                    text += piece
                    chunks += 1
                    if on_text is not None:
                        on_text(text)
        usage = usage or {}
        return Generation(
            text=text.strip(),
            prompt_tokens=_count(usage, "prompt_tokens"),  # None: a server that sends no usage in streams
            completion_tokens=_count(usage, "completion_tokens") or chunks,
        )


def _parse_completion(raw):
    try:
        payload = json.loads(raw)
        message = payload["choices"][0]["message"]
        text = message.get("content") or ""
        usage = payload.get("usage") or {}
    except (ValueError, KeyError, IndexError, TypeError, AttributeError):
        snippet = raw[:200].decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)[:200]
        raise GenerationError(
            f"The endpoint's answer is not an OpenAI chat completion: {snippet!r}"
        ) from None
    return Generation(
        text=text.strip(),
        prompt_tokens=_count(usage, "prompt_tokens"),
        completion_tokens=_count(usage, "completion_tokens") or 0,
    )


def _count(usage, name):
    """A token count from a usage object; None when the server did not say."""
    try:
        return int(usage[name]) if usage.get(name) is not None else None
    except (TypeError, ValueError):
        return None


def _error_detail(exc):
    try:
        body = exc.read(500).decode("utf-8", "replace").strip()
    except Exception:  # noqa: BLE001 - the status line is enough
        return ""
    try:
        message = json.loads(body)["error"]
        message = message.get("message", message) if isinstance(message, dict) else message
        return f": {str(message)[:300]}"
    except (ValueError, KeyError, TypeError):
        return f": {body[:200]}" if body else ""


def _retry_after(exc):
    value = exc.headers.get("Retry-After") if exc.headers else None
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


# --- OpenAI-compatible image APIs -------------------------------------------------------------


def images_url(base_url, edit):
    """``…/v1/images/generations`` or ``…/v1/images/edits`` from the endpoint's base URL."""
    base = base_url.rstrip("/")
    for suffix in ("/chat/completions", "/images/generations", "/images/edits"):
        if base.endswith(suffix):
            base = base[: -len(suffix)]
    return base + ("/images/edits" if edit else "/images/generations")


def image_request_body(model, prompt, params):
    """The JSON (or form) fields of an image request. ``size`` from ``size`` or ``width``/``height``;
    ``seed`` only when the endpoint fixes one (an extension local image servers read)."""
    body = {"model": model, "prompt": prompt, "n": 1, "response_format": "b64_json"}
    if params.get("size"):
        body["size"] = str(params["size"])
    elif params.get("width") and params.get("height"):
        body["size"] = f"{int(params['width'])}x{int(params['height'])}"
    for name in ("quality", "style", "background"):
        if params.get(name):
            body[name] = str(params[name])
    if params.get("seed") is not None:
        body["seed"] = int(params["seed"])
    return body


def decode_image_part(url):
    """(bytes, content type) of an ``image_url`` part; only base64 data URLs are sent on."""
    import base64
    import binascii

    if not url.startswith("data:") or ";base64," not in url:
        raise GenerationError("An input image must be a base64 data URL.")
    header, payload = url[5:].split(";base64,", 1)
    try:
        return base64.b64decode(payload, validate=True), header or "application/octet-stream"
    except binascii.Error:
        raise GenerationError("An input image's base64 data is damaged.") from None


def multipart_body(fields, files):
    """(body, content type) of a multipart/form-data request: the fields, then the images as
    ``image`` (one) or ``image[]`` (several), as the OpenAI edits API takes them."""
    import secrets

    boundary = "prefarena-" + secrets.token_hex(12)
    chunks = []
    for name, value in fields.items():
        chunks.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        )
    field = "image" if len(files) == 1 else "image[]"
    for index, (data, content_type) in enumerate(files):
        ext = content_type.rsplit("/", 1)[-1].replace("jpeg", "jpg")
        chunks.append(
            (
                f"--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"input-{index}.{ext}\"\r\n"
                f"Content-Type: {content_type}\r\n\r\n"
            ).encode()
            + data
            + b"\r\n"
        )
    chunks.append(f"--{boundary}--\r\n".encode())
    return b"".join(chunks), f"multipart/form-data; boundary={boundary}"


def _parse_image(raw):
    import base64
    import binascii

    try:
        item = json.loads(raw)["data"][0]
        encoded = item["b64_json"]
        return base64.b64decode(encoded, validate=True)
    except (ValueError, KeyError, IndexError, TypeError, binascii.Error):
        snippet = raw[:200].decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)[:200]
        raise GenerationError(
            f"The endpoint's answer is not an OpenAI image response with b64_json data: {snippet!r}"
        ) from None
