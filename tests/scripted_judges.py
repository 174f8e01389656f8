"""Scripted judges: real OpenAI-compatible HTTP servers on loopback whose "model" follows a fixed policy,
so what the platform measures of a judge can be checked exactly. A fixture shared by the judge and routing
tests."""

import re

import pytest

from inference.models import ModelEndpoint
from inference.openai_server import ChatCompletionsHandler, OpenAICompatibleServer


class ScriptedJudge(ChatCompletionsHandler):
    """Replies like a judge following `policy`: "first" (always the first shown) or "longest"."""

    policy = "first"

    def complete(self, body, path, messages):
        text = messages[-1]["content"]
        answers = re.findall(r"\[Answer ([A-Z])\]\n(.*?)\n\[End of answer", text, re.S)
        if self.policy == "first":
            pick = answers[0][0]
        else:
            pick = max(answers, key=lambda a: len(a[1]))[0]
        reply = f"Best: {pick}\nReason: policy {self.policy}.\nConfidence: 4"
        self.send_json(200, {"choices": [{"index": 0, "message": {"role": "assistant", "content": reply}}],
                             "usage": {"prompt_tokens": 10, "completion_tokens": 8}})


@pytest.fixture
def scripted_judge():
    servers = []

    def make(policy):
        handler = type(f"Judge_{policy}", (ScriptedJudge,), {"policy": policy})
        server = OpenAICompatibleServer({"judge": "unused"}, handler=handler)
        server.start_in_thread()
        servers.append(server)
        return ModelEndpoint.objects.create(
            name=f"judge-{policy}", backend="openai", path=server.base_url, api_model="judge", judge_method="llm",
            max_retries=0,
        )

    yield make
    for server in servers:
        server.shutdown()
        server.server_close()
