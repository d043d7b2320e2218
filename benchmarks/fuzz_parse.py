"""Fuzz `parse_case_json` + `assess` with 100,000 mutated cases: no input may crash them.

Inputs start from the bundled examples and are mutated the way hostile or broken clients send
them: bytes flipped, inserted or cut, values swapped for other JSON (deep nesting, integers of
thousands of digits, huge exponents, NaN, wrong types, control characters), keys duplicated.
A crash is any exception other than `CaseInputError` (the clear, field-naming refusal). The
peer is the standard library's `json.loads` on the same inputs: how much the guarded parse costs.
"""

import contextlib
import json
import random
import sys
import time
from pathlib import Path
from typing import Any

from netlm import CaseInputError, assess, parse_case_json

N_INPUTS = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
SEED = 20261130
EXAMPLES = sorted((Path(__file__).resolve().parent.parent / "examples").glob("*.json"))

HOSTILE: list[Any] = [
    None, True, 3.0, -1, 10**40, 1e308, "", "x" * 5000, "\u0000\u202e", [], {}, [[[[1]]]],
    {"a": 1}, "NaN", 0.1, 2**63, -(2**63) - 1,
]  # fmt: skip
HOSTILE_TEXT = [
    "[" * 5000 + "]" * 5000, "9" * 5000, "1e99999", "NaN", "-Infinity", '"\\ud800"', "{" * 100,
]  # fmt: skip


def _paths(data: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(data, dict):
        for key, value in data.items():
            out += _paths(value, (*prefix, key))
    elif isinstance(data, list):
        for i, value in enumerate(data):
            out += _paths(value, (*prefix, i))
    return out


def _get(data: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        data = data[part]
    return data


def _set(data: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    node = data
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value
    return data


def mutate(rng: random.Random, seeds: list[dict[str, Any]]) -> str:
    data = json.loads(json.dumps(rng.choice(seeds)))
    kind = rng.randrange(8)
    if kind >= 6:  # numbers nudged, often still a valid case: the engine sees odd values
        for path in _paths(data):
            if rng.random() < 0.3 and isinstance(_get(data, path), int | float):
                value = _get(data, path)
                _set(data, path, rng.choice((value * 2, value - 1, 0, 0.5, 99.9, 1000)))
        return json.dumps(data)
    if kind == 0:  # a value replaced by something hostile
        path = rng.choice(_paths(data))
        return json.dumps(_set(data, path, rng.choice(HOSTILE)))
    if kind == 1:  # raw hostile text spliced in place of a value
        text = json.dumps(data)
        cut = rng.randrange(len(text))
        return text[:cut] + rng.choice(HOSTILE_TEXT) + text[cut + 1 :]
    if kind == 2:  # bytes flipped
        chars = list(json.dumps(data))
        for _ in range(rng.randint(1, 8)):
            chars[rng.randrange(len(chars))] = chr(rng.randrange(0, 0x3000))
        return "".join(chars)
    if kind == 3:  # truncated
        text = json.dumps(data)
        return text[: rng.randrange(len(text))]
    if kind == 4:  # a key duplicated
        text = json.dumps(data)
        return text.replace('"schema"', '"schema": "x", "schema"', 1)
    path = rng.choice(_paths(data))  # a subtree deeply nested
    value: Any = 1
    for _ in range(rng.choice((10, 70, 900))):
        value = [value]
    return json.dumps(_set(data, path, value)) if len(path) else json.dumps(value)


def main() -> None:
    rng = random.Random(SEED)
    seeds = [json.loads(p.read_text(encoding="utf-8")) for p in EXAMPLES]
    inputs = [mutate(rng, seeds) for _ in range(N_INPUTS)]
    crashes: dict[str, int] = {}
    refused = assessed = 0
    start = time.perf_counter()
    for text in inputs:
        try:
            assess(parse_case_json(text))
            assessed += 1
        except CaseInputError:
            refused += 1
        except Exception as exc:
            crashes[type(exc).__name__] = crashes.get(type(exc).__name__, 0) + 1
    ours = time.perf_counter() - start
    start = time.perf_counter()
    for text in inputs:
        with contextlib.suppress(ValueError, RecursionError):
            json.loads(text)
    peer = time.perf_counter() - start
    print(f"fuzz: {N_INPUTS:,} mutated cases through parse_case_json + assess")
    print(f"  assessed {assessed:,}, refused with a field-naming error {refused:,}")
    print(f"  crashes: {sum(crashes.values())} {crashes or ''}".rstrip())
    print(f"  time: {ours:.1f} s ({N_INPUTS / ours:,.0f} inputs/s); json.loads alone {peer:.1f} s")
    print(f"  ratio netlm (parse + validate + assess) / json.loads: {ours / peer:.0f}x")
    if crashes:
        sys.exit(1)


if __name__ == "__main__":
    main()
