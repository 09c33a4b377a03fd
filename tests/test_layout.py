"""The code's layout: dependencies among the Rust modules of ``src/`` point one way, from
the plugin boundary through the operations and the block readers to the kernels and the
leaves, and neither they nor the Python package's modules import in a cycle.

A module's dependencies are read from its source: every ``crate::m`` (or ``$crate::m``)
outside comments, ``m`` a top-level module; a directory module (``src/m/``) counts as
one module.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"
PACKAGE = ROOT / "python" / "polars_gumbel"

# Each layer may import its own layer and the layers after it, never one before it.
LAYERS: list[tuple[str, set[str]]] = [
    ("boundary", {"lib", "ffi", "expressions", "python"}),
    (
        "operations",
        {"codec", "contingency", "correlation", "decode", "gumbel", "numeric", "onehot", "softmax"},
    ),
    ("blocks", {"blocks"}),
    ("kernels", {"argmax", "mixture"}),
    ("leaves", {"dispatch", "fastmath", "par", "real", "rng", "simd", "tau"}),
]


def module_of(path: Path) -> str:
    rel = path.relative_to(SRC)
    return rel.parts[0] if len(rel.parts) > 1 else rel.stem


def rust_dependencies() -> dict[str, set[str]]:
    modules = {module_of(p) for p in SRC.rglob("*.rs")}
    deps: dict[str, set[str]] = {m: set() for m in modules}
    for path in SRC.rglob("*.rs"):
        me = module_of(path)
        for line in path.read_text(encoding="utf-8").splitlines():
            code = line.split("//", 1)[0]
            for used in re.findall(r"\bcrate::(\w+)", code):
                if used in modules and used != me:
                    deps[me].add(used)
    return deps


def python_dependencies() -> dict[str, set[str]]:
    modules = {p.stem for p in PACKAGE.glob("*.py")}
    deps: dict[str, set[str]] = {m: set() for m in modules}
    for path in PACKAGE.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module:
                parts = node.module.split(".")
                if parts[0] != "polars_gumbel":
                    continue
                if len(parts) > 1:
                    used = {parts[1]}
                else:
                    used = {a.name for a in node.names}
                deps[path.stem] |= {u for u in used if u in modules and u != path.stem}
    return deps


def find_cycle(deps: dict[str, set[str]]) -> list[str] | None:
    """A cycle of the graph, as the modules along it, or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(m: str) -> list[str] | None:
        state[m] = 1
        stack.append(m)
        for d in sorted(deps[m]):
            if state.get(d) == 1:
                return [*stack[stack.index(d) :], d]
            if d not in state:
                found = visit(d)
                if found:
                    return found
        stack.pop()
        state[m] = 2
        return None

    for m in sorted(deps):
        if m not in state:
            found = visit(m)
            if found:
                return found
    return None


def test_cycle_finder_finds_a_cycle() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set(), "c": {"a", "b"}}) is None


@pytest.mark.parametrize("deps", [rust_dependencies, python_dependencies])
def test_no_import_cycle(deps: object) -> None:
    graph = deps()  # type: ignore[operator]
    assert find_cycle(graph) is None, f"import cycle: {' -> '.join(find_cycle(graph) or [])}"


def test_every_rust_module_has_a_layer() -> None:
    placed = set().union(*(members for _, members in LAYERS))
    assert set(rust_dependencies()) == placed


def test_dependencies_point_one_way() -> None:
    rank = {m: i for i, (_, members) in enumerate(LAYERS) for m in members}
    upward = [
        f"{m} ({LAYERS[rank[m]][0]}) imports {d} ({LAYERS[rank[d]][0]})"
        for m, ds in rust_dependencies().items()
        for d in ds
        if rank[d] < rank[m]
    ]
    assert upward == []


def test_every_rust_module_says_what_it_may_import() -> None:
    for path in sorted(SRC.rglob("*.rs")):
        doc = "\n".join(
            line for line in path.read_text(encoding="utf-8").splitlines() if line.startswith("//!")
        )
        assert doc, f"{path.relative_to(ROOT)} has no module documentation"
        if path.name in ("mod.rs",) or path.parent == SRC:
            assert re.search(r"import|leaf|boundary", doc, re.I), (
                f"{path.relative_to(ROOT)} does not say what it may import"
            )


if __name__ == "__main__":
    for name, graph in (("src", rust_dependencies()), ("python", python_dependencies())):
        print(f"# {name}")
        for m in sorted(graph):
            print(f"{m} -> {', '.join(sorted(graph[m])) or '(none)'}")
