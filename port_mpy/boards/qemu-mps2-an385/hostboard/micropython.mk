# The board support lostcard's qemu board needs that the qemu port lacks: a wall clock, entropy and a
# persistent flash, all from the emulator's host through ARM semihosting (emulator-only: a real board
# replaces this module with its RTC, TRNG and flash driver; docs/DEVICE.md).
HOSTBOARD_DIR := $(USERMOD_DIR)
SRC_USERMOD_C += $(HOSTBOARD_DIR)/semihost.c $(HOSTBOARD_DIR)/clock_entropy.c $(HOSTBOARD_DIR)/hostflash.c \
	$(HOSTBOARD_DIR)/boot.c
SRC_USERMOD_LIB_C += $(TOP)/lib/axtls/crypto/aes.c
