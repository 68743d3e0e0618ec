"""The layers of docs/architecture.md hold: data flows one way, and only the CLI touches the
process's environment and terminal.

Every module under fbocli/ is parsed with ``ast``; each ``fbocli`` import it makes (at the
top, inside functions, under ``TYPE_CHECKING``) counts, and so do the packages Python runs
on the way (``import fbocli.mapping.normalize`` runs ``fbocli/mapping/__init__.py``). No
module may import one of a higher layer. The lazy root (``fbocli/__init__.py``) and
``fbocli/__main__.py`` are exempt; importing the root from anywhere is fine (it imports
nothing until an attribute is asked for).
"""

from __future__ import annotations

import ast
import io
import tokenize
from pathlib import Path

import pytest

from tests.helpers import ROOT

PACKAGE = ROOT / "fbocli"
LAYERS: dict[str, int] = {
    **dict.fromkeys(
        [
            "errors",
            "secret",
            "wire",
            "settings",
            "versions",
            "mapping.normalize",
            "mapping.places",
            "mapping.phones",
            "mapping.timeparse",
            "quality",
            "privatefile",
            # the packages' __init__ files import nothing: the leaves above use them
            "inputs",
            "mapping",
        ],
        0,
    ),
    "config": 1,
    **dict.fromkeys(
        [
            "inputs.record",
            "inputs.jsonl",
            "inputs.zones",
            "inputs.cells",
            "inputs.columns",
            "inputs.customers",
            "inputs.presets",
            "inputs.csvrows",
            "inputs.csvfile",
            "inputs.paths",
            "inputs.reader",
        ],
        2,
    ),
    **dict.fromkeys(
        ["mapping.payload", "mapping.matchkeys", "mapping.custom", "mapping.message"],
        3,
    ),
    "stats": 4,
    **dict.fromkeys(["chunks", "rejects"], 5),
    **dict.fromkeys(["pool", "batching", "duplicates"], 6),
    **dict.fromkeys(["journal", "graph", "credentials", "auth", "scores"], 7),
    **dict.fromkeys(["sinks", "sinks.dryrun", "sinks.upload"], 8),
    "pipeline": 9,
    "api": 10,
    **dict.fromkeys(
        ["cli", "cli.auth", "cli.environment", "cli.progress", "cli.quality", "cli.report"], 11
    ),
}
EXEMPT = {"", "__main__"}  # the lazy root and `python -m fbocli`
# What only the command line may touch: the environment, the standard streams, a terminal.
PROCESS_WORDS = (
    "os.environ",
    "getenv",
    "sys.stdin",
    "sys.stdout",
    "sys.stderr",
    "isatty",
    "print(",
    "click",
)


def _modules() -> dict[str, Path]:
    """Dotted names below ``fbocli`` ("" for the root) -> file."""
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


MODULES = _modules()


def _imported(name: str, path: Path) -> set[str]:
    """The fbocli modules (dotted below ``fbocli``) that importing ``name`` runs."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    targets: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets.update(a.name for a in node.names if a.name.split(".")[0] == "fbocli")
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: from the module's own package up
                base = package.split(".") if package else []
                base = base[: len(base) - (node.level - 1)]
                module = ".".join(["fbocli", *base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            if module.split(".")[0] != "fbocli":
                continue
            targets.add(module)
            for alias in node.names:  # `from fbocli.x import y`: y may be a module
                if f"{module}.{alias.name}".removeprefix("fbocli.") in MODULES:
                    targets.add(f"{module}.{alias.name}")
    ran: set[str] = set()
    for target in targets:
        parts = target.split(".")[1:]
        for end in range(1, len(parts) + 1):  # the packages on the way run too
            ran.add(".".join(parts[:end]))
    return {module for module in ran if module in MODULES}


def test_every_module_has_a_layer() -> None:
    assert sorted(set(MODULES) - EXEMPT - set(LAYERS)) == []
    assert sorted(set(LAYERS) - set(MODULES)) == []


@pytest.mark.parametrize("name", sorted(set(LAYERS) & set(MODULES)))
def test_no_module_imports_a_higher_layer(name: str) -> None:
    layer = LAYERS[name]
    higher = {
        other: LAYERS[other]
        for other in _imported(name, MODULES[name])
        if other not in EXEMPT and LAYERS[other] > layer
    }
    assert higher == {}, f"fbocli.{name} (layer {layer}) imports a higher layer"


def test_the_import_collector_sees_every_kind_of_import() -> None:
    """The checks above are only as good as this: plain, from, nested, TYPE_CHECKING."""
    assert "graph" in _imported("sinks.upload", MODULES["sinks.upload"])  # under TYPE_CHECKING
    assert "graph" in _imported("api", MODULES["api"])  # inside a function
    assert "mapping" in _imported("config", MODULES["config"])  # a package on the way
    assert "wire" in _imported("sinks.dryrun", MODULES["sinks.dryrun"])  # from fbocli import
    assert {"cli.auth", "cli.report", "api"} <= _imported("cli", MODULES["cli"])


def _code(path: Path) -> str:
    """The module's code without comments and string literals (docstrings included)."""
    kept = []
    tokens = tokenize.generate_tokens(io.StringIO(path.read_text(encoding="utf-8")).readline)
    for token in tokens:
        if token.type not in (tokenize.COMMENT, tokenize.STRING):
            kept.append(token.string)
    return " ".join(kept).replace(" . ", ".").replace(" (", "(").replace(". ", ".")


BELOW_CLI = sorted(name for name in MODULES if name not in ("cli", "__main__") and not
                   name.startswith("cli."))  # fmt: skip


@pytest.mark.parametrize("name", BELOW_CLI)
def test_only_the_cli_touches_the_environment_and_the_terminal(name: str) -> None:
    code = _code(MODULES[name])
    assert [word for word in PROCESS_WORDS if word in code] == []


def test_the_process_check_reads_code_not_prose() -> None:
    assert "sys.stdout" in _code(MODULES["cli"])
    assert "click" in _code(MODULES["cli"]) and "os.environ" in _code(MODULES["cli"])
    assert "print(" not in _code(MODULES[""])  # only in the root's docstring example
