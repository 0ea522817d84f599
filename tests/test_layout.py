"""The folders are the architecture: what ships to a terminal is what sits in the device folders,
the two ports never import each other, and the core never imports a port or the collector half
from device code."""

import ast
from pathlib import Path

from lostcard_cpython import mpybuild, paths

DEVICE_DIRS = [root / package for root, package in mpybuild.DEVICE_PACKAGES]


def _imports(path):
    """Every module name `path` imports, relative imports resolved against its package."""
    parts, folder = [], path.parent
    while (folder / "__init__.py").exists() or folder == path.parent:
        parts.insert(0, folder.name)
        folder = folder.parent
    package = ".".join(parts)
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                parts = parts[:len(parts) - node.level + 1]
                base = ".".join(parts + ([node.module] if node.module else []))
            names.add(base)
            names.update(base + "." + alias.name for alias in node.names)
    return names


def _sources(directory):
    return sorted(Path(directory).glob("*.py"))


def test_the_device_bundle_is_the_device_folders_and_nothing_else(tmp_path):
    sizes = mpybuild.build_device(tmp_path)
    shipped = {Path(name) for name in sizes if name.endswith(".mpy")}
    expected = {Path(package) / (source.stem + ".mpy")
                for root, package in mpybuild.DEVICE_PACKAGES for source in _sources(root / package)}
    assert shipped == expected
    # no collector or tool module anywhere in the output: .mpy files or frozen sources
    for found in tmp_path.rglob("*"):
        assert "collector" not in found.parts and "lostcard_tools" not in found.parts, found
    frozen = {p.relative_to(tmp_path / "src") for p in (tmp_path / "src").rglob("*.py")}
    # and for firmware, the policy's words as a module (generated: never in the device folders)
    assert frozen == {p.with_suffix(".py") for p in expected} | {Path("lostcard/words.py")}
    assert not (mpybuild.CORE / "lostcard" / "words.py").exists()


def test_the_tools_bundle_adds_the_collector_half_and_the_tools(tmp_path):
    sizes = mpybuild.build(tmp_path, tools=True)
    assert "lostcard/collector/record_check.mpy" in sizes
    assert "lostcard_tools/bench_classify.mpy" in sizes


def test_device_code_never_imports_the_collector_half_or_a_tool():
    for directory in DEVICE_DIRS:
        for source in _sources(directory):
            for name in _imports(source):
                assert not name.startswith(("lostcard.collector", "lostcard_tools")), (source, name)


def _module_name(source):
    parts = [source.stem] if source.stem != "__init__" else []
    folder = source.parent
    while (folder / "__init__.py").exists():
        parts.insert(0, folder.name)
        folder = folder.parent
    return ".".join(parts)


def _tree(directory):
    """{module name: names it imports} for every module in `directory` and below."""
    return {_module_name(source): _imports(source) for source in Path(directory).rglob("*.py")}


TOOLS = paths.PORT_MPY / "tools" / "lostcard_tools"
# the tools run on both interpreters; on CPython these two drive the emulator's Terminal
TOOLS_ON_CPYTHON = {"lostcard_tools.demo_day", "lostcard_tools.bench_device"}


def test_the_ports_never_import_each_other_and_the_core_imports_no_port():
    ports = ("lostcard_mpy", "lostcard_cpython", "lostcard_tools")
    for names in _tree(paths.CORE / "lostcard").values():
        assert not [n for n in names if n.startswith(ports)]
    for names in _tree(paths.PORT_MPY / "lostcard_mpy").values():
        assert not [n for n in names if n.startswith(("lostcard_cpython", "lostcard_tools"))]
    tools = _tree(TOOLS)
    # a tool that loads the MicroPython port is off limits to the CPython port, even through tools
    device_tools = {m for m, names in tools.items() if any(n.startswith("lostcard_mpy") for n in names)}
    for module, names in _tree(paths.ROOT / "port_cpython" / "lostcard_cpython").items():
        bad = [n for n in names if n.startswith("lostcard_mpy")
               or any(n == t or n.startswith(t + ".") for t in device_tools)]
        assert bad == [], (module, bad)
    for module, names in tools.items():
        if module not in TOOLS_ON_CPYTHON:
            assert not [n for n in names if n.startswith("lostcard_cpython")], module


def test_every_bundled_module_is_reachable_from_the_terminal(tmp_path):
    """What the bundle ships, a terminal loads: a module nothing on the device imports (a
    collector or tool module dropped into a device folder) fails here."""
    bundled = {}
    for root, package in mpybuild.DEVICE_PACKAGES:
        for source in _sources(root / package):
            bundled[_module_name(source)] = _imports(source)
    seen, todo = set(), ["lostcard_mpy", "lostcard_mpy.terminal", "lostcard_mpy.platform"]
    todo += _imports(mpybuild.EXAMPLE)
    while todo:
        name = todo.pop()
        for module in (name, name.rpartition(".")[0]):  # a module, or a name imported from one
            if module in bundled and module not in seen:
                seen.add(module)
                todo += bundled[module]
                parent = module.rpartition(".")[0]
                todo += [parent] if parent else []
    # lostcard.platform is the porting contract: a docstring that nothing imports, ~40 bytes
    assert set(bundled) - seen == {"lostcard.platform"}


def test_the_import_check_sees_a_forbidden_import(tmp_path):
    # the checks above must be able to fail: a module importing the collector half is seen
    package = tmp_path / "lostcard"
    package.mkdir()
    bad = package / "bad.py"
    bad.write_text("from .collector import record_check\nimport lostcard_tools.median\n")
    assert {"lostcard.collector", "lostcard.collector.record_check",
            "lostcard_tools.median"} <= _imports(bad)
