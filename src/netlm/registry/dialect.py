"""The few places where DuckDB's and Spark's SQL differ (types, lists, lambdas, JSON lists).

Everything else the compiler writes is the SQL both engines share: CASE, AND/OR/NOT with NULL
(Kleene's three-valued logic), IN, comparisons, coalesce, concat, concat_ws, lpad.
"""

from abc import ABC, abstractmethod
from dataclasses import dataclass

# JSON list columns: a list of strings, or the prior-therapy objects.
_DUCKDB_LISTS = {
    "string": ('["VARCHAR"]', "VARCHAR[]"),
    "therapy": ('[{"option":"VARCHAR","outcome":"VARCHAR"}]',
                "STRUCT(option VARCHAR, outcome VARCHAR)[]"),
}  # fmt: skip
_SPARK_LISTS = {"string": "array<string>", "therapy": "array<struct<option:string,outcome:string>>"}
_JSON_ARRAY = r"\[.*\]"


@dataclass(frozen=True)
class Dialect(ABC):
    name: str
    string: str  # the string type in CAST

    @abstractmethod
    def quote(self, name: str) -> str: ...

    @abstractmethod
    def lam(self, var: str, body: str) -> str: ...

    def try_cast(self, expr: str, type_: str) -> str:
        return f"try_cast({expr} AS {type_})"

    def cast_str(self, expr: str) -> str:
        return f"CAST({expr} AS {self.string})"

    @abstractmethod
    def full_match(self, expr: str, regex: str) -> str: ...

    @abstractmethod
    def json_list(self, expr: str, element: str) -> str:
        """A JSON array in `expr` as a list of `element` (a struct spec or 'string'); NULL if
        the text is not a JSON array."""

    @abstractmethod
    def json_foreign_keys(self, expr: str, allowed: tuple[str, ...]) -> str:
        """TRUE when an item of the JSON array in `expr` is an object with a key outside
        `allowed` (the typed reading of the list ignores such keys, so they are checked apart)."""

    @abstractmethod
    def collect_sorted(self, expr: str) -> str:
        """Aggregate: the values of `expr` in the group, as a sorted list."""

    @abstractmethod
    def split_plus(self, expr: str) -> str: ...

    def array(self, items: list[str]) -> str:
        return f"array({', '.join(items)})"

    @abstractmethod
    def size(self, expr: str) -> str: ...

    def head(self, expr: str, n: int) -> str:
        """The first `n` elements of a list."""
        return f"slice({expr}, 1, {n})"

    def filter(self, expr: str, var: str, body: str) -> str:
        return f"filter({expr}, {self.lam(var, body)})"

    def transform(self, expr: str, var: str, body: str) -> str:
        return f"transform({expr}, {self.lam(var, body)})"

    def exists(self, expr: str, var: str, body: str) -> str:
        return f"{self.size(self.filter(expr, var, body))} > 0"

    def position(self, expr: str, value: str) -> str:
        """1-based position of `value` in the list (when absent: 0, NULL in DuckDB)."""
        return f"array_position({expr}, {value})"

    def pick(self, expr: str, positions: str) -> str:
        """The elements of `expr` at the (1-based) `positions`, in their order."""
        return f"transform({positions}, p -> element_at({expr}, CAST(p AS INT)))"

    def join(self, expr: str, sep: str) -> str:
        return f"array_join({expr}, '{sep}')"

    def bit(self, expr: str) -> str:
        """2 ** expr as a 64-bit integer."""
        return f"shiftleft(CAST(1 AS BIGINT), {expr})"

    def shift_right(self, expr: str, bits: int) -> str:
        return f"shiftright({expr}, {bits})"

    def contains(self, expr: str, value: str) -> str:
        return f"array_contains({expr}, {value})"

    def distinct(self, expr: str) -> str:
        return f"array_distinct({expr})"

    def sort(self, expr: str) -> str:
        return f"array_sort({expr})"

    def reverse(self, expr: str) -> str:
        return f"reverse({expr})"

    def at(self, expr: str, position: str) -> str:
        """The element at the 1-based `position` (NULL when `position` is 0: absent)."""
        return f"CASE WHEN {position} > 0 THEN element_at({expr}, CAST({position} AS INT)) END"

    def explode(self, expr: str) -> str:
        return f"explode({expr})"

    @abstractmethod
    def empty_list(self, element_type: str) -> str: ...


class DuckDB(Dialect):
    def __init__(self) -> None:
        super().__init__("duckdb", "VARCHAR")

    def quote(self, name: str) -> str:
        return '"' + name.replace('"', '""') + '"'

    def lam(self, var: str, body: str) -> str:
        return f"lambda {var}: {body}"

    def full_match(self, expr: str, regex: str) -> str:
        return f"regexp_full_match({expr}, '{regex}')"

    def json_list(self, expr: str, element: str) -> str:
        spec, type_ = _DUCKDB_LISTS[element]
        return (
            f"CASE WHEN json_valid({expr}) AND json_type({expr}) = 'ARRAY' "
            f"THEN try_cast(from_json({expr}, '{spec}') AS {type_}) END"
        )

    def json_foreign_keys(self, expr: str, allowed: tuple[str, ...]) -> str:
        names = ", ".join(f"'{k}'" for k in allowed)
        items = f"from_json({expr}, '[\"JSON\"]')"
        foreign = f"len(list_filter(json_keys(x), lambda k: k NOT IN ({names}))) > 0"
        return f"len(list_filter({items}, lambda x: json_type(x) = 'OBJECT' AND {foreign})) > 0"

    def collect_sorted(self, expr: str) -> str:
        return f"list({expr} ORDER BY {expr})"

    def split_plus(self, expr: str) -> str:
        return f"string_split({expr}, '+')"

    def array(self, items: list[str]) -> str:
        return f"list_value({', '.join(items)})"

    def size(self, expr: str) -> str:
        return f"len({expr})"

    def head(self, expr: str, n: int) -> str:
        return f"list_slice({expr}, 1, {n})"

    def filter(self, expr: str, var: str, body: str) -> str:
        return f"list_filter({expr}, {self.lam(var, body)})"

    def transform(self, expr: str, var: str, body: str) -> str:
        return f"list_transform({expr}, {self.lam(var, body)})"

    def contains(self, expr: str, value: str) -> str:
        return f"list_contains({expr}, {value})"

    def position(self, expr: str, value: str) -> str:
        return f"list_position({expr}, {value})"

    def pick(self, expr: str, positions: str) -> str:
        return f"list_select({expr}, {positions})"

    def join(self, expr: str, sep: str) -> str:
        return f"array_to_string({expr}, '{sep}')"

    def bit(self, expr: str) -> str:
        return f"(CAST(1 AS BIGINT) << {expr})"

    def shift_right(self, expr: str, bits: int) -> str:
        return f"({expr} >> {bits})"

    def distinct(self, expr: str) -> str:
        return f"list_distinct({expr})"

    def sort(self, expr: str) -> str:
        return f"list_sort({expr})"

    def reverse(self, expr: str) -> str:
        return f"list_reverse({expr})"

    def at(self, expr: str, position: str) -> str:
        return f"{expr}[{position}]"  # DuckDB's list_position is NULL when absent

    def explode(self, expr: str) -> str:
        return f"unnest({expr})"

    def empty_list(self, element_type: str) -> str:
        return f"CAST([] AS {element_type}[])"


class Spark(Dialect):
    def __init__(self) -> None:
        super().__init__("spark", "STRING")

    def quote(self, name: str) -> str:
        return "`" + name.replace("`", "``") + "`"

    def lam(self, var: str, body: str) -> str:
        return f"{var} -> {body}"

    def full_match(self, expr: str, regex: str) -> str:
        return f"({expr} RLIKE '^{regex.replace(chr(92), chr(92) * 2)}$')"

    def json_list(self, expr: str, element: str) -> str:
        spec = _SPARK_LISTS[element]
        is_array = self.full_match(f"trim({expr})", _JSON_ARRAY)
        return f"CASE WHEN {is_array} THEN from_json({expr}, '{spec}') END"

    def json_foreign_keys(self, expr: str, allowed: tuple[str, ...]) -> str:
        names = ", ".join(f"'{k}'" for k in allowed)
        items = f"from_json({expr}, 'array<map<string,string>>')"
        return f"exists({items}, m -> exists(map_keys(m), k -> k NOT IN ({names})))"

    def collect_sorted(self, expr: str) -> str:
        return f"array_sort(collect_list({expr}))"

    def split_plus(self, expr: str) -> str:
        return f"split({expr}, '[+]')"

    def size(self, expr: str) -> str:
        return f"size({expr})"

    def exists(self, expr: str, var: str, body: str) -> str:
        return f"exists({expr}, {self.lam(var, body)})"

    def empty_list(self, element_type: str) -> str:
        return f"CAST(array() AS array<{element_type}>)"


DUCKDB = DuckDB()
SPARK = Spark()
