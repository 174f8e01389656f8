"""`python manage.py serve_openai_compatible --model NAME=DIR [--port 8001]`: serve local model
directories through an OpenAI-compatible chat completions API (for tests, benches, small demos)."""

import os

from django.core.management.base import BaseCommand, CommandError

from inference.openai_server import OpenAICompatibleServer


class Command(BaseCommand):
    help = "Serve local model directories through an OpenAI-compatible /v1/chat/completions API."

    def add_arguments(self, parser):
        parser.add_argument("--model", action="append", required=True, help="NAME=DIRECTORY (repeatable)")
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8001)
        parser.add_argument(
            "--api-key-env", default="", help="name of an environment variable holding the key to require"
        )

    def handle(self, *args, model, host, port, api_key_env, **options):
        models = {}
        for item in model:
            name, sep, path = item.partition("=")
            if not sep or not name or not path:
                raise CommandError(f"--model {item!r}: write NAME=DIRECTORY.")
            models[name] = path
        key = os.environ.get(api_key_env, "") if api_key_env else ""
        if api_key_env and not key:
            raise CommandError(f"The environment variable {api_key_env} is not set.")
        server = OpenAICompatibleServer(models, host=host, port=port, api_key=key)
        self.stdout.write(f"Serving {', '.join(models)} at {server.base_url}")
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.server_close()
