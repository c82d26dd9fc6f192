"""Runs one measurement in this process: ``python -m bench.child CONTEXT.json RESULT.json NAME``.

Each measurement gets a fresh interpreter, so the peak RSS it reports is its own and no
measurement inherits another's caches, threads or garbage.
"""

from __future__ import annotations

import inspect
import json
import sys
import traceback
from pathlib import Path

from bench.registry import Context, load
from bench.result import Result
from chainon import event_loop


def run(name: str, ctx: Context) -> Result:
    outcome = load()[name].run(ctx)
    if inspect.isawaitable(outcome):

        async def wait() -> Result:
            result: Result = await outcome
            return result

        return event_loop.run(wait())
    return outcome


def main(argv: list[str]) -> int:
    context_path, result_path, name = Path(argv[0]), Path(argv[1]), argv[2]
    ctx = Context.from_json(json.loads(context_path.read_text()))
    try:
        result = run(name, ctx)
    except BaseException as exc:
        document = {"error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()}
        result_path.write_text(json.dumps(document))
        traceback.print_exc()
        return 1
    result_path.write_text(json.dumps({"result": result.to_json()}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
