#include <string.h>

#include "semihost.h"

#define SYS_OPEN (0x01)
#define SYS_WRITE (0x05)
#define SYS_READ (0x06)
#define SYS_SEEK (0x0a)
#define SYS_FLEN (0x0c)
#define SYS_TIME (0x11)

static uint32_t call(uint32_t op, const void *arg) {
    register uint32_t r0 __asm__ ("r0") = op;
    register const void *r1 __asm__ ("r1") = arg;
    __asm__ volatile ("bkpt 0xab" : "+r" (r0) : "r" (r1) : "memory");
    return r0;
}

int semihost_open(const char *path, uint32_t mode) {
    uint32_t args[3] = {(uint32_t)path, mode, strlen(path)};
    return (int)call(SYS_OPEN, args);
}

uint32_t semihost_read(int fd, void *buf, size_t len) {
    uint32_t args[3] = {(uint32_t)fd, (uint32_t)buf, len};
    return call(SYS_READ, args);
}

uint32_t semihost_write(int fd, const void *buf, size_t len) {
    uint32_t args[3] = {(uint32_t)fd, (uint32_t)buf, len};
    return call(SYS_WRITE, args);
}

int semihost_seek(int fd, uint32_t pos) {
    uint32_t args[2] = {(uint32_t)fd, pos};
    return (int)call(SYS_SEEK, args);
}

int semihost_length(int fd) {
    uint32_t args[1] = {(uint32_t)fd};
    return (int)call(SYS_FLEN, args);
}

uint32_t semihost_time(void) {
    return call(SYS_TIME, NULL);
}
