"""The packages import one way (analysis -> nat -> distill), no module imports another in a circle, and
nothing edits sys.path; read from the source, lazy imports inside functions included."""
import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LAYERS = ("distill", "nat", "analysis")  # each may import the ones before it, never one after it


def _imports() -> dict[str, set[str]]:
    modules = {".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__"): path
               for layer in LAYERS for path in (ROOT / layer).rglob("*.py")}
    graph = {module: set() for module in modules}
    for module, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([node.module] if isinstance(node, ast.ImportFrom) and node.module and node.level == 0 else
                     [alias.name for alias in node.names] if isinstance(node, ast.Import) else [])
            for name in names:
                while name and name not in modules:
                    name = name.rpartition(".")[0]
                if name and name != module:
                    graph[module].add(name)
    return graph


def test_packages_import_one_way():
    upward = [(module, target) for module, targets in _imports().items() for target in targets
              if LAYERS.index(target.split(".")[0]) > LAYERS.index(module.split(".")[0])]
    assert upward == []


def test_no_module_imports_another_in_a_circle():
    graph = _imports()
    circles = []

    def visit(start, module, path):
        for target in graph[module]:
            if target == start:
                circles.append(path)
            elif target not in path:
                visit(start, target, [*path, target])

    for module in graph:
        visit(module, module, [module])
    assert circles == []


def test_nothing_edits_sys_path():
    sources = [path for folder in (*LAYERS, "scripts", "tests") for path in (ROOT / folder).rglob("*.py")]
    assert [path for path in sources if "sys.path." in path.read_text() and path.name != "test_layering.py"] == []
