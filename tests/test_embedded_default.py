"""The demo's embedded default, for real: SQLite and kombu's SQLAlchemy broker on a file,
a `celery worker` process, one answer generated end to end. No server involved."""

import json
import os
import subprocess
import sys
import time

from tests.conftest import ROOT, TINY_PARAMS

QUEUE_ONE = """
import json, sys, django; django.setup()
from django.db import transaction
from inference.models import ModelEndpoint, Prompt
from inference.services import request_responses
with transaction.atomic():
    endpoint = ModelEndpoint.objects.create(name="tiny", path=sys.argv[1], generation_params=json.loads(sys.argv[2]))
    prompt = Prompt.objects.create(conversation=[{"role": "user", "content": "warm rain"}])
    print(request_responses(prompt, [endpoint])[0].pk)
"""
READ_ONE = """
import sys, django; django.setup()
from inference.models import Response
r = Response.objects.get(pk=int(sys.argv[1]))
print(r.status, len(r.text))
"""


def test_demo_defaults_run_a_generation_through_a_real_worker(tmp_path, tiny_model_dirs):
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "CELERY_BROKER_URL", "CELERY_RESULT_BACKEND"}
    }
    env.update(DJANGO_SETTINGS_MODULE="config.settings", PREFARENA_VAR_DIR=str(tmp_path))

    def run(*args):
        return subprocess.run(
            args, cwd=ROOT, env=env, capture_output=True, text=True, check=True, timeout=120
        ).stdout

    run(sys.executable, "manage.py", "migrate", "--noinput", "-v", "0")
    pk = int(run(sys.executable, "-c", QUEUE_ONE, str(tiny_model_dirs[0]), json.dumps(TINY_PARAMS)).strip())
    log_path = tmp_path / "worker.log"
    with open(log_path, "w") as log:
        worker = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "config",
                "worker",
                "-Q",
                "default,inference,ranking",
                "--pool",
                "threads",
                "--concurrency",
                "1",
                "--without-gossip",
                "--without-mingle",
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 90
            status = ""
            while time.monotonic() < deadline:
                status, length = run(sys.executable, "-c", READ_ONE, str(pk)).split()
                if status in ("done", "failed"):
                    break
                time.sleep(0.5)
        finally:
            worker.terminate()
            worker.wait(timeout=30)
    assert status == "done", log_path.read_text()[-3000:]
    assert int(length) > 0
    assert (tmp_path / "celery-broker.sqlite3").exists() and (tmp_path / "prefarena.sqlite3").exists()
