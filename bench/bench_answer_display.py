"""How long an answer takes to show (annotation.rendering), against escaping it as plain text (the baseline,
measured in the same run): the auto check and the Markdown render, on ordinary and adversarial 100k-character
answers (the size cap of an imported response). Run: python bench/bench_answer_display.py"""

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django

django.setup()

from django.utils.html import escape

from annotation.rendering import looks_like_markdown, render_markdown_inert

N = 100_000
CASES = {
    "chat answer (prose, lists, code)": (
        "## Steps\n\n1. Install `x`\n2. Run:\n\n```python\nprint(2*3)\n```\n\n"
        "Some **bold** prose with a [link](https://example.org).\n\n"
    )
    * (N // 110),
    "long line of pipes": "|" * N,
    "a*a*a*… (emphasis runs)": "a*" * (N // 2),
    "one-item lines (- x)": "- x\n" * (N // 4),
    "prose": ("word " * 20 + "\n") * (N // 101),
}


def best(fn, text, repeat=3):
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn(text)
        times.append(time.perf_counter() - start)
    return min(times)


print(f"load average: {open('/proc/loadavg').read().split()[:3]}")
print(f"{'answer':36} {'chars':>7} {'escape ms':>10} {'auto ms':>9} {'x':>6} {'markdown ms':>12} {'x':>8}")
for name, text in CASES.items():
    base = best(escape, text)
    auto = best(looks_like_markdown, text)
    markdown = best(render_markdown_inert, text, repeat=1)
    print(
        f"{name:36} {len(text):7d} {base * 1000:10.2f} {auto * 1000:9.1f} {auto / base:6.0f} "
        f"{markdown * 1000:12.1f} {markdown / base:8.0f}"
    )
