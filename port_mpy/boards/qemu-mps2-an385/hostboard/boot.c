// The qemu port runs no boot script; the board's frozen _boot.py mounts the flash at the end of
// every mp_init (power-on and soft reset), before the REPL or a program runs.
#include "shared/runtime/pyexec.h"

void hostboard_init(void) {
    pyexec_frozen_module("_boot.py", false);
}
