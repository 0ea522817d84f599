# lostcard's qemu-mps2-an385 board: the qemu port's MPS2_AN385 (Cortex-M3) plus what a terminal needs.
# Used as BOARD_DIR with BOARD=MPS2_AN385; lostcard build-firmware passes USER_C_MODULES and the heap.

# -- upstream boards/MPS2_AN385/mpconfigboard.mk, unchanged --
QEMU_ARCH = arm
QEMU_MACHINE = mps2-an385
CFLAGS += -mthumb -mcpu=cortex-m3 -mfloat-abi=soft
CFLAGS += -DQEMU_SOC_MPS2
CFLAGS += -DMICROPY_HW_MCU_NAME='"Cortex-M3"'
LDSCRIPT = mcu/arm/mps2.ld
SRC_BOARD_O = shared/runtime/gchelper_native.o shared/runtime/gchelper_thumb2.o
MPY_CROSS_FLAGS += -march=armv7m

# -- lostcard --
# a terminal-sized heap (the port's default is 140 KiB); build-firmware --heap sets it
MICROPY_HEAP_SIZE ?= 65536
# the queue lives on LittleFS (vfs_lfs needs mp_hal_time_ns: hostboard/clock_entropy.c)
MICROPY_VFS_LFS2 = 1
# cryptolib (AES ECB/CBC for AES-CCM) on axTLS's AES alone, without TLS: the board has no network
CFLAGS += -DMICROPY_PY_CRYPTOLIB=1 -DMICROPY_SSL_AXTLS=1 -I$(TOP)/lib/axtls/ssl -I$(TOP)/lib/axtls/crypto \
	-I$(TOP)/extmod/axtls-include -I$(BOARD_DIR)/hostboard/include
# time.time() from the wall clock, counted from 1970 like the host's (the port's default is 2000,
# which would date LittleFS files 30 years ahead); os.urandom from the board's entropy source
CFLAGS += -DMICROPY_PY_TIME_TIME_TIME_NS=1 -DMICROPY_EPOCH_IS_1970=1 -DMICROPY_PY_OS_URANDOM=1 \
	-DMICROPY_PY_TIME_INCLUDEFILE="\"$(BOARD_DIR)/hostboard/time_include.h\""
# the port's mp_hal_get_random is a fixed-seed LCG: nonces and sync ids need real entropy
LDFLAGS += -Wl,--wrap=mp_hal_get_random
# the port runs no boot script: mount the flash at the end of mp_init (hostboard/boot.c)
CFLAGS += -D'MICROPY_PORT_INIT_FUNC=extern void hostboard_init(void); hostboard_init()'
