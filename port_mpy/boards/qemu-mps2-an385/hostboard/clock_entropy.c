// The wall clock (time.time, LittleFS timestamps) and the entropy (os.urandom: sealing nonces, sync
// request ids) of the emulated board, both from the host. The qemu port has neither: no RTC, and its
// mp_hal_get_random is a fixed-seed LCG, which the board's link flags replace with this one.
#include "py/mphal.h"
#include "py/mperrno.h"
#include "py/runtime.h"

#include "semihost.h"

uint64_t mp_hal_time_ns(void) {
    return (uint64_t)semihost_time() * 1000000000ULL;
}

void __wrap_mp_hal_get_random(size_t n, uint8_t *buf) {
    static int fd = -1;
    if (fd < 0) {
        fd = semihost_open("/dev/urandom", SEMIHOST_RB);
    }
    // never hand out predictable bytes: a sync nonce that repeats after a reboot would let an old
    // acknowledgement be replayed
    if (fd < 0 || semihost_read(fd, buf, n) != 0) {
        mp_raise_OSError(MP_EIO);
    }
}
