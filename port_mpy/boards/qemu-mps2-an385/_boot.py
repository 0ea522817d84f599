# Mount the terminal's flash (LittleFS on the host-file block device) at / and work there, as a
# terminal's boot script does; a blank image is formatted once.
import os
import vfs

import hostboard

IMAGE = "lostcard-flash.img"  # in the emulator's working directory
BLOCKS = 2048  # 1 MiB of 512-byte blocks: a file costs a block, and the queue writes many small ones

flash = hostboard.Flash(IMAGE, BLOCKS, 512)
try:
    vfs.mount(vfs.VfsLfs2(flash), "/")
except OSError:  # never formatted
    vfs.VfsLfs2.mkfs(flash)
    vfs.mount(vfs.VfsLfs2(flash), "/")
os.chdir("/")
del os, vfs, hostboard, flash
