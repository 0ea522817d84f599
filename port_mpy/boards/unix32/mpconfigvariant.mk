# 32-bit code on a 64-bit host (Debian gcc-multilib); the retired MICROPY_FORCE_32BIT only warns.
CFLAGS_EXTRA += -m32
LDFLAGS_EXTRA += -m32
# no libffi and no berkeley-db in the trimmed source, and a terminal needs neither
MICROPY_PY_FFI = 0
MICROPY_PY_BTREE = 0
# TLS and cryptolib on mbedtls: axTLS would be smaller but verifies no certificate
MICROPY_SSL_MBEDTLS = 1
MICROPY_SSL_AXTLS = 0
