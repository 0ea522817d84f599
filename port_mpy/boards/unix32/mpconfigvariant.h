// lostcard's unix32 board: the unix port as a 32-bit binary, the standard variant's features
// (asyncio, socket, VfsLfs2, hashlib, cryptolib and tls on mbedtls with certificate verification).
#define MICROPY_CONFIG_ROM_LEVEL (MICROPY_CONFIG_ROM_LEVEL_EXTRA_FEATURES)
#include "variants/mpconfigvariant_common.h"
