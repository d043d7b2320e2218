"""Walking the JSON Schema of `netlm.case/1` by field path.

Error messages (the allowed range or values of a field) and the knowledge-base check (that every
case field has a label and the same enum values) both read the schema this way.
"""

from functools import cache
from typing import Any

from netlm.model.case import Case


@cache
def case_schema() -> dict[str, Any]:
    return Case.model_json_schema(by_alias=True)


def resolve(node: dict[str, Any]) -> dict[str, Any]:
    """Follow `$ref` and unwrap `X | None` until a concrete node remains."""
    defs = case_schema().get("$defs", {})
    while True:
        if "$ref" in node:
            node = defs[node["$ref"].rsplit("/", 1)[-1]]
        elif "anyOf" in node:
            node = next(n for n in node["anyOf"] if n.get("type") != "null")
        else:
            return node


def node_at(loc: tuple[int | str, ...]) -> dict[str, Any]:
    """The schema node of the field at `loc` ({} when the path leaves the schema)."""
    node = resolve(case_schema())
    for part in loc:
        if isinstance(part, int):
            node = resolve(node.get("items", {}))
        else:
            child = node.get("properties", {}).get(part)
            if child is None:
                return {}
            node = resolve(child)
    return node


def leaf_fields() -> dict[str, dict[str, Any]]:
    """Every scalar or list field of the case by dotted path (list items resolved)."""
    out: dict[str, dict[str, Any]] = {}

    def walk(prefix: str, node: dict[str, Any]) -> None:
        for key, child in node.get("properties", {}).items():
            path = f"{prefix}.{key}" if prefix else key
            child = resolve(child)
            if child.get("type") == "object":
                walk(path, child)
            elif child.get("type") == "array":
                out[path] = resolve(child.get("items", {}))
            else:
                out[path] = child

    walk("", resolve(case_schema()))
    return out


def allowed_values(node: dict[str, Any]) -> list[Any]:
    """The enum (or single constant) a node allows; [] when it is not an enumeration."""
    if "enum" in node:
        return list(node["enum"])
    return [node["const"]] if "const" in node else []
