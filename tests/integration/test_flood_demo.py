"""The flood demo (demo/flood.py) run as a user runs it, on its own stack: the flooded pool's
backlog builds up while the other pool's tasks keep finishing, and after the scale-up every
task succeeds."""

from __future__ import annotations

import asyncio
import os
import re
import sys

from tests.stack import ROOT

ROW = re.compile(
    r"^\s*\d+s \|\s+(?P<wf>\S+)/(?P<act>\S+)\s+(?P<running>\d+)\s+(?P<done>\d+)/(?P<total>\d+)"
    r"\s+(?P<polling>\d+)/(?P<wanted>\d+)\s+\|\s+(?P<reviews_done>\d+)/(?P<reviews>\d+)"
)


async def test_the_flood_demo_floods_one_pool_and_the_other_keeps_finishing() -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "demo.flood",
        *("--research", "15", "--rate", "3", "--tool-seconds", "2", "--hold", "4"),
        *("--scale-to", "2", "--timeout", "150"),
        cwd=ROOT,
        env={k: v for k, v in os.environ.items() if not k.startswith("AGENTRY_")},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(process.communicate(), 280)
    text = out.decode()
    assert process.returncode == 0, text

    lines = text.splitlines()
    scaled = lines.index("--- scaled pool research to 2 workers ---")
    rows = [(i, m) for i, line in enumerate(lines) if (m := ROW.match(line))]
    assert len(rows) >= 5, text
    # while research was flooded, its backlog was there and review tasks still finished
    flooded = [m for i, m in rows if int(m["done"]) < int(m["total"]) or i < scaled]
    assert any(m["act"] not in ("0", "?") and int(m["act"]) > 0 for m in flooded), text
    assert any(int(m["reviews_done"]) >= 2 for m in flooded), text
    # the supervisor brought research to two workers after the scale-up
    assert any(m["polling"] == "2" and m["wanted"] == "2" for i, m in rows if i > scaled), text
    assert "research: 15/15 succeeded" in text
    [review] = [line for line in lines if line.startswith("review:")]
    done, submitted = re.search(r"(\d+)/(\d+) succeeded", review).groups()  # type: ignore[union-attr]
    assert done == submitted and int(done) >= 2, review
