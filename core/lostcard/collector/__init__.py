"""The collector's half of the core: opening and checking sealed records (record_check), the fleet's
key derivation (fleet), the batch and fetch intake (intake) and the update objects (updates).
Portable, tested on both interpreters, never shipped to a terminal: `lostcard build-mpy` bundles
only the modules directly in core/lostcard/.
"""
