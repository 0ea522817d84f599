"""Both ports and every test fake provide the whole platform contract (core/lostcard/platform.py):
each hook present, callable and taking the contract's arguments.

The contract is read from lostcard.platform's docstring, so a hook added there is asked of every
implementation at once. The MicroPython port imports here with stand-ins for `cryptolib` and
`requests`, which CPython lacks, for its names and signatures; on MicroPython, with its real
modules, each hook is checked present and callable (MicroPython cannot tell a function's arity).
"""

import inspect
import re
import sys
import types

import pytest

from lostcard import platform
from lostcard_cpython import mpybuild, paths
from lostcard_cpython.platform import Platform as CPythonPlatform

from test_layout import _imports
from micropython_process import micropython

URL = "http://127.0.0.1:9"


def contract():
    """{shape: {hook: how many arguments a caller passes, None for an attribute}}, from the
    "Shape: ..." and "  .hook(arguments)" lines of lostcard.platform's docstring."""
    shapes = {}
    for line in platform.__doc__.splitlines():
        shape = re.match(r"([A-Z]\w*): ", line)
        hook = re.match(r"  \.(\w+)(?:\((.*)\))?$", line)
        if shape:
            hooks = shapes[shape.group(1)] = {}
        elif hook:
            arguments = hook.group(2)
            hooks[hook.group(1)] = None if arguments is None else len(
                [a for a in arguments.split(",") if a.strip()])
    return shapes


SHAPES = contract()


def unmet(implementation, shape, only=None):
    """What `implementation` lacks of the contract's `shape` (of its hooks in `only`)."""
    problems = []
    for name, arity in SHAPES[shape].items():
        if only is not None and name not in only:
            continue
        if not hasattr(implementation, name):
            problems.append(name + ": missing")
            continue
        member = getattr(implementation, name)
        if arity is None:
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


def _conforms(port, queue_dir):
    """What a Terminal asks of the platform `port`, and of what its hooks return, meets the
    contract."""
    crypto = port.crypto()
    for implementation, shape, only in (
            (port, "Platform", None),
            (crypto, "Crypto", None),
            (crypto.aead(bytes(16)), "Aead", None),
            (port.hmac(), "Crypto", ("hmac_sha256",)),
            (port.storage(str(queue_dir)), "Storage", None),
            (port.transport(URL), "Transport", None)):
        assert unmet(implementation, shape, only) == [], (implementation, shape)


@pytest.fixture
def mpy_port(monkeypatch):
    """lostcard_mpy, imported on CPython with an empty `cryptolib` module."""
    for name in ("cryptolib",):
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


ON_THE_DEVICE = """
from lostcard_mpy.platform import Platform
port = Platform()
crypto = port.crypto()
found = {"Platform": port, "Crypto": crypto, "Aead": crypto.aead(bytes(16)),
         "Storage": port.storage("platform-check"), "Transport": port.transport(%r)}
for shape, hooks in %r.items():
    for name, arity in hooks.items():
        hook = getattr(found[shape], name, None)
        if hook is None or arity is not None and not callable(hook):
            print(shape, name)
print(callable(port.hmac().hmac_sha256))
"""


def test_the_device_port_has_every_hook_on_micropython(bundle):
    proc = micropython(bundle, ["-c", ON_THE_DEVICE % (URL, SHAPES)])
    assert proc.returncode == 0 and proc.stdout.split() == ["True"], proc.stdout + proc.stderr


def test_the_device_platform_keeps_what_the_terminal_holds_between_phases(mpy_port):
    port = mpy_port.Platform()
    assert isinstance(port.keep, tuple)
    for module in ("lostcard.terminal", "lostcard_mpy.terminal", type(port).__module__,
                   port.storage.__module__):
        assert module in port.keep


def test_the_test_fakes_meet_the_contract(tmp_path):
    from lostcard_tools.cut_storage import CutStorage
    from queue_fakes import MemoryStorage
    from test_queue import FailingStorage
    from test_terminal import Clock

    for storage in (MemoryStorage(), FailingStorage(), CutStorage(MemoryStorage(), None),
                    CutStorage(MemoryStorage(), 1, appends_only=True)):
        assert unmet(storage, "Storage") == [], storage
    _conforms(Clock(), tmp_path / "q")  # the terminal tests' platform and its counting transport


def test_the_contract_is_read_from_the_docstring():
    assert set(SHAPES) == {"Platform", "Storage", "Transport", "Aead", "Crypto"}
    assert SHAPES["Platform"]["keep"] is None and SHAPES["Platform"]["clock"] == 0
    assert SHAPES["Storage"] == {"list": 0, "read": 1, "append": 2, "replace": 2, "read_at": 3,
                                 "reader": 1, "rename": 2, "remove": 1, "free": 0}
    assert SHAPES["Crypto"]["hkdf_sha256"] == 4


def test_the_check_sees_what_an_implementation_lacks():
    class Incomplete:
        def list(self):
            return []

        def read(self):  # no name
            return b""

        append = replace = None

    problems = unmet(Incomplete(), "Storage") + unmet(Incomplete(), "Platform")
    assert "read: does not take 1 arguments" in problems
    assert "append: not callable" in problems and "remove: missing" in problems
    assert "keep: missing" in problems and "random_bytes: missing" in problems
    assert "list: missing" not in problems


def test_nothing_on_a_terminal_imports_the_contract():
    itself = paths.CORE / "lostcard" / "platform.py"
    sources = [paths.PORT_MPY / "main.py"] + [
        source for root, package in mpybuild.DEVICE_PACKAGES
        for source in sorted((root / package).glob("*.py")) if source != itself]
    assert len(sources) > 20
    for source in sources:
        assert "lostcard.platform" not in _imports(source), source


def test_the_flash_storage_creates_every_missing_directory(bundle, tmp_path):
    # "the Storage of directory `path`, created if missing": nested, as a config may name it
    path = tmp_path / "a" / "b" / "queue"
    script = ("from lostcard_mpy.storage import FlashStorage\n"
              "s = FlashStorage(%r)\ns.append('x', b'1')\nprint(list(s.list()), s.read('x'))"
              % str(path))
    proc = micropython(bundle, ["-c", script])
    assert proc.returncode == 0 and proc.stdout.split() == ["['x']", "b'1'"], proc.stdout
    assert (path / "x").read_bytes() == b"1"


@pytest.mark.parametrize("nonce, size", [(bytes(12), 20), (bytes(13), (1 << 16) + 8)])
def test_every_failure_to_open_is_an_authentication_error(nonce, size):
    # the core's CCM (the device's Aead) as the contract says: one error, whatever failed
    from lostcard import ccm
    from lostcard.errors import AuthenticationError

    def never(data):
        raise AssertionError("no AES work for a message refused by its length or nonce")

    with pytest.raises(AuthenticationError):
        ccm.open(never, never, nonce, bytes(size), b"")
