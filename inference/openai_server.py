"""A small OpenAI-compatible chat completions server for local models, on the standard library.

It serves model directories through our transformers backend, so any OpenAI client
(our HTTP backend included) can reach them: `python manage.py serve_openai_compatible
--model name=var/models/smollm2-135m-instruct --port 8001`. It is for tests,
benchmarks and small demos; for production traffic put vLLM or TGI behind an
endpoint instead (same API)."""

import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from .backends import GenerationError, get_backend


class ChatCompletionsHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "PrefArenaOpenAI/1"

    def log_message(self, format, *args):  # quiet: tests and benches read their own output
        pass

    # -- helpers -----------------------------------------------------------
    def send_json(self, status, payload, headers=None):
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def send_error_json(self, status, message, headers=None):
        self.send_json(status, {"error": {"message": message, "type": "invalid_request_error"}}, headers)

    def authorised(self):
        key = self.server.api_key
        if key and self.headers.get("Authorization") != f"Bearer {key}":
            self.send_error_json(401, "Incorrect API key provided.")
            return False
        return True

    # -- routes ------------------------------------------------------------
    def do_GET(self):
        if self.path.rstrip("/") == "/v1/models":
            if self.authorised():
                self.send_json(
                    200,
                    {"object": "list", "data": [{"id": n, "object": "model"} for n in self.server.models]},
                )
        else:
            self.send_error_json(404, f"No route {self.path}.")

    def do_POST(self):
        if self.path.rstrip("/") != "/v1/chat/completions":
            self.send_error_json(404, f"No route {self.path}.")
            return
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        if not self.authorised():
            return
        try:
            body = json.loads(raw)
            path = self.server.models[body["model"]]
            messages = body["messages"]
        except (ValueError, KeyError, TypeError):
            self.send_error_json(400, "Send JSON with a known model and messages.")
            return
        with self.server.counter_lock:
            self.server.in_flight += 1
            self.server.max_in_flight = max(self.server.max_in_flight, self.server.in_flight)
            self.server.requests += 1
        try:
            self.complete(body, path, messages)
        finally:
            with self.server.counter_lock:
                self.server.in_flight -= 1

    def complete(self, body, path, messages):
        params = {
            "max_new_tokens": int(body.get("max_tokens") or 256),
            "temperature": float(body.get("temperature", 1.0)),
        }
        for ours, theirs in (("top_p", "top_p"), ("seed", "seed"), ("min_new_tokens", "min_tokens")):
            if body.get(theirs) is not None:
                params[ours] = body[theirs]
        backend = get_backend("transformers")
        created, ident = int(time.time()), f"chatcmpl-{uuid.uuid4().hex[:12]}"
        if not body.get("stream"):
            try:
                result = backend.generate(path, messages, params, device=self.server.device)
            except GenerationError as exc:
                self.send_error_json(400, str(exc))
                return
            self.send_json(
                200,
                {
                    "id": ident,
                    "object": "chat.completion",
                    "created": created,
                    "model": body["model"],
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": result.text},
                            "finish_reason": "stop",
                        }
                    ],
                    "usage": {
                        "prompt_tokens": result.prompt_tokens,
                        "completion_tokens": result.completion_tokens,
                        "total_tokens": result.prompt_tokens + result.completion_tokens,
                    },
                },
            )
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        sent = [""]

        def event(payload):
            self.wfile.write(f"data: {json.dumps(payload)}\n\n".encode())
            self.wfile.flush()

        def chunk(delta, finish=None):
            event(
                {
                    "id": ident,
                    "object": "chat.completion.chunk",
                    "created": created,
                    "model": body["model"],
                    "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
                }
            )

        def on_text(text):
            if text.startswith(sent[0]) and len(text) > len(sent[0]):
                chunk({"content": text[len(sent[0]) :]})
                sent[0] = text

        chunk({"role": "assistant"})
        try:
            result = backend.generate(path, messages, params, on_text=on_text, device=self.server.device)
        except GenerationError as exc:
            event({"error": {"message": str(exc)}})
            self.wfile.write(b"data: [DONE]\n\n")
            return
        chunk({}, finish="stop")
        if (body.get("stream_options") or {}).get("include_usage"):
            event(
                {
                    "id": ident,
                    "object": "chat.completion.chunk",
                    "created": created,
                    "model": body["model"],
                    "choices": [],
                    "usage": {
                        "prompt_tokens": result.prompt_tokens,
                        "completion_tokens": result.completion_tokens,
                        "total_tokens": result.prompt_tokens + result.completion_tokens,
                    },
                }
            )
        self.wfile.write(b"data: [DONE]\n\n")
        self.wfile.flush()


class OpenAICompatibleServer(ThreadingHTTPServer):
    """``models`` maps the API's model names to local model directories."""

    daemon_threads = True

    def __init__(
        self, models, host="127.0.0.1", port=0, api_key="", device="auto", handler=ChatCompletionsHandler
    ):
        super().__init__((host, port), handler)
        self.models = dict(models)
        self.api_key = api_key
        self.device = device
        self.counter_lock = threading.Lock()
        self.in_flight = self.max_in_flight = self.requests = 0

    @property
    def base_url(self):
        host, port = self.server_address[:2]
        return f"http://{host}:{port}/v1"

    def start_in_thread(self):
        thread = threading.Thread(target=self.serve_forever, daemon=True, name="openai-compatible-server")
        thread.start()
        return thread
