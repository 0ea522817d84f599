"""The median of a list of integers, for the on-device benchmarks (no statistics module here)."""


def median(values):
    values = sorted(values)
    n = len(values)
    return values[n // 2] if n % 2 else (values[n // 2 - 1] + values[n // 2]) // 2
