"""The part of a decision that lostcard.record.build stores: what the interop tests and the
records benchmark hand a small-heap device in place of the whole decision (off the device: a
terminal builds its record from the decision it has just made)."""


RECORDED = ("id", "cause", "subcause", "confidence", "action", "offline", "evidence", "priority",
            "policy", "errors")


def recorded_part(decision):
    """The part of a decision that `build` stores: what a device must hand over to be recorded."""
    part = {}
    for name in RECORDED:
        part[name] = decision[name]
    part["evidence"] = [{"rule": e["rule"], "cause": e["cause"], "points": e["points"]}
                        for e in decision["evidence"]]
    return part
