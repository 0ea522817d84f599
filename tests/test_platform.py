"""Both ports and every test fake provide the whole platform contract (core/lostcard/platform.py):
each method present, callable and taking the contract's arguments, each attribute of its type.

The contract is read from lostcard.platform itself, so a hook added there is asked of every
implementation at once. The MicroPython port imports here with stand-ins for `cryptolib` and
`requests`, which CPython lacks: only names and signatures are checked on CPython; on MicroPython
tests/mpy/test_device_platform.py checks the real modules, and test_device.py runs them.
"""

import inspect
import sys
import types

import pytest

from lostcard import platform as contract
from lostcard_cpython import mpybuild, paths
from lostcard_cpython.platform import Platform as CPythonPlatform

from test_layout import _imports

URL = "http://127.0.0.1:9"


def _arguments(shape):
    """{name: how many positional arguments a caller passes, or None for an attribute}."""
    found = {}
    for name, value in vars(shape).items():
        if name.startswith("_"):
            continue
        if isinstance(value, staticmethod):
            found[name] = len(inspect.signature(value.__func__).parameters)
        elif inspect.isfunction(value):
            found[name] = len(inspect.signature(value).parameters) - 1  # without self
        else:
            found[name] = None
    return found


def unmet(implementation, shape, only=None):
    """What `implementation` lacks of the contract class `shape` (of its names in `only`)."""
    problems = []
    for name, arity in _arguments(shape).items():
        if only is not None and name not in only:
            continue
        if not hasattr(implementation, name):
            problems.append(name + ": missing")
            continue
        member = getattr(implementation, name)
        if arity is None:
            if not isinstance(member, type(getattr(shape, name))):
                problems.append(name + ": not a " + type(getattr(shape, name)).__name__)
            continue
        if not callable(member):
            problems.append(name + ": not callable")
            continue
        try:
            signature = inspect.signature(member)
        except ValueError:  # a builtin without one (time.time): the interpreter's own, trusted
            continue
        try:
            signature.bind(*range(arity))
        except TypeError:
            problems.append("%s: does not take %d arguments" % (name, arity))
    return problems


def _conforms(platform, queue_dir):
    """What a Terminal asks of `platform`, and of what its hooks return, meets the contract."""
    crypto = platform.crypto()
    for implementation, shape, only in (
            (platform, contract.Platform, None),
            (crypto, contract.Crypto, None),
            (crypto.aead(bytes(16)), contract.Aead, None),
            (platform.hmac(), contract.Crypto, ("hmac_sha256",)),
            (platform.storage(str(queue_dir)), contract.Storage, None),
            (platform.transport(URL), contract.Transport, None)):
        assert unmet(implementation, shape, only) == [], (implementation, shape)


@pytest.fixture
def mpy_port(monkeypatch):
    """lostcard_mpy, imported on CPython with empty `cryptolib` and `requests` modules."""
    for name in ("cryptolib", "requests"):
        monkeypatch.setitem(sys.modules, name, types.ModuleType(name))
    before = set(sys.modules)
    import lostcard_mpy.platform

    yield lostcard_mpy.platform
    for name in set(sys.modules) - before:  # the port's modules, bound to the stand-ins
        del sys.modules[name]
        parent, _, child = name.rpartition(".")
        if parent in sys.modules:
            vars(sys.modules[parent]).pop(child, None)


def test_the_cpython_port_meets_the_contract(tmp_path):
    _conforms(CPythonPlatform(), tmp_path / "q")


def test_the_micropython_port_meets_the_contract(mpy_port, tmp_path):
    _conforms(mpy_port.Platform(), tmp_path / "q")


def test_the_device_platform_keeps_what_the_terminal_holds_between_phases(mpy_port):
    platform = mpy_port.Platform()
    for module in ("lostcard.terminal", "lostcard_mpy.terminal", type(platform).__module__,
                   platform.storage.__module__):
        assert module in platform.keep


def test_the_test_fakes_meet_the_contract(tmp_path):
    from lostcard_tools.demo_day import PowerCut
    from queue_fakes import MemoryStorage
    from test_queue import FailingStorage
    from test_queue_powercut import FaultyStorage
    from test_terminal import Clock

    for storage in (MemoryStorage(), FailingStorage(), FaultyStorage({}, None),
                    PowerCut(MemoryStorage(), 1)):
        assert unmet(storage, contract.Storage) == [], storage
    _conforms(Clock(), tmp_path / "q")  # the terminal tests' platform and its counting transport


def test_the_check_sees_what_an_implementation_lacks():
    class Incomplete:
        keep = []  # a list, where the contract has a tuple

        def list(self):
            return []

        def read(self):  # no name
            return b""

        append = replace = None

    problems = unmet(Incomplete(), contract.Storage) + unmet(Incomplete(), contract.Platform)
    assert "read: does not take 1 arguments" in problems
    assert "append: not callable" in problems and "remove: missing" in problems
    assert "keep: not a tuple" in problems and "random_bytes: missing" in problems
    assert "list: missing" not in problems


def test_nothing_on_a_terminal_imports_the_contract():
    itself = paths.CORE / "lostcard" / "platform.py"
    sources = [paths.PORT_MPY / "main.py"] + [
        source for root, package in mpybuild.DEVICE_PACKAGES
        for source in sorted((root / package).glob("*.py")) if source != itself]
    assert len(sources) > 20
    for source in sources:
        assert "lostcard.platform" not in _imports(source), source
