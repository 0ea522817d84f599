// ARM semihosting calls to the emulator's host (QEMU -semihosting): the board's clock, entropy and
// flash image. Emulator-only: on hardware without a debugger attached these calls fault.
#ifndef LOSTCARD_SEMIHOST_H
#define LOSTCARD_SEMIHOST_H

#include <stddef.h>
#include <stdint.h>

// SYS_OPEN modes (fopen's "rb", "r+b", "w+b")
#define SEMIHOST_RB (1)
#define SEMIHOST_RPLUSB (3)
#define SEMIHOST_WPLUSB (7)

int semihost_open(const char *path, uint32_t mode);  // a handle, or -1
// each returns 0 when all `len` bytes moved (semihosting returns the count NOT moved)
uint32_t semihost_read(int fd, void *buf, size_t len);
uint32_t semihost_write(int fd, const void *buf, size_t len);
int semihost_seek(int fd, uint32_t pos);  // 0 on success
int semihost_length(int fd);  // the file's length, or -1
uint32_t semihost_time(void);  // seconds since 1970 by the host's clock

#endif
