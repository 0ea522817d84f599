"""`lostcard bench records`: building + sealing and opening an incident on both interpreters,
and a sealed incident's size beside the same incident as JSON."""

import json
import statistics

from lostcard import cbor, cose, keys, record, sealing
from lostcard.decision import classify
from lostcard_tools.recorded import recorded_part
from lostcard.collector.fleet import device_root, first_chain

from .. import crypto
from .. import scenarios as scenario_file
from ..incidents import describe
from .harness import built_bundle, heading, median_us, micropython_result, row

GOAL = 160  # bytes: the median sealed incident


def cpython_records(items, runs):
    """Median us to build + seal and to open, and every sealed and JSON size, on CPython."""
    chain = first_chain(crypto, device_root(crypto, bytes(32), "BENCH-1"))
    device = keys.DeviceKeys(crypto, "BENCH-1", 0, chain)
    aead = crypto.aead(device.key)
    seal_us, open_us, sealed_sizes, json_sizes = [], [], [], []
    for seq, (event, decision) in enumerate(items, 1):
        def seal():
            return sealing.seal(crypto, device, record.build(event, decision, "BENCH-1", seq,
                                                            crypto, bytes(32)))
        sealed = seal()
        seal_us.append(median_us(seal, runs))
        open_us.append(median_us(lambda: cbor.decode(cose.open(aead, sealed)), runs))
        sealed_sizes.append(len(sealed))
        incident = describe(cbor.decode(cose.open(aead, sealed)))
        json_sizes.append(len(json.dumps(incident, ensure_ascii=False,
                                         separators=(",", ":")).encode()))
    return {"seal_us": statistics.median(seal_us), "open_us": statistics.median(open_us),
            "sealed": sealed_sizes, "json": json_sizes}


def run(out, runs):
    items = [(i["event"], classify(i["event"])) for i in scenario_file.load()]
    cp = cpython_records(items, runs)
    with built_bundle() as bundle:
        path = "%s/decided.jsonl" % bundle
        with open(path, "w", encoding="utf-8") as f:
            for event, decision in items:
                # only what a record keeps: the texts would crowd a 64 KiB heap for nothing
                f.write(json.dumps({"event": event, "decision": recorded_part(decision)})
                        + "\n")
        mp = micropython_result(bundle, ["-m", "lostcard_tools.bench_records", path, str(runs)])
    sealed, plain = cp["sealed"], cp["json"]
    out.write("lostcard bench records: %d incidents x %d runs per interpreter\n" % (len(items), runs))
    heading(out, "CPython", "MicroPython")
    for label, key in (("build + seal, median per incident (us)", "seal_us"),
                       ("open + decode, median per incident (us)", "open_us")):
        row(out, label, cp[key], mp[key], mp[key] / cp[key])
    heading(out, "sealed", "JSON")
    for label, fn in (("incident size, median (bytes)", statistics.median),
                      ("incident size, max (bytes)", max)):
        row(out, label, int(fn(sealed)), int(fn(plain)), fn(sealed) / fn(plain), digits=0,
            ratio_digits=2)
    out.write("goal: median sealed incident <= %d bytes: %s\n"
              % (GOAL, "met" if statistics.median(sealed) <= GOAL else "NOT met"))
    out.write("Sealed: COSE_Encrypt0, AES-CCM-16-64-128, deterministic CBOR (its fixed envelope: kid,\n"
              "13-byte IV, 8-byte tag, headers). JSON: the same incident, compact, as `inspect` names it.\n")
