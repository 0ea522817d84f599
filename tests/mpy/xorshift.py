"""xorshift32: the same pseudo-random numbers on every interpreter, for the seeded tests that
MicroPython and CPython must run identically (test_fuzz, the safety invariants)."""


class XorShift:
    def __init__(self, seed):
        self.state = seed & 0xFFFFFFFF or 1

    def below(self, n):
        x = self.state
        x ^= (x << 13) & 0xFFFFFFFF
        x ^= x >> 17
        x ^= (x << 5) & 0xFFFFFFFF
        self.state = x
        return x % n

    def pick(self, seq):
        return seq[self.below(len(seq))]
