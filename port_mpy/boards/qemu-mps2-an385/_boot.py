# Mount the terminal's flash (LittleFS on the host-file block device) at / and work there, as a
# terminal's boot script does. Only an image this boot created is formatted: a flash that fails to
# mount is left as it is (the terminal then reports store errors), never wiped with its queue.
import os
import vfs

import hostboard

BLOCKS = 2048  # 1 MiB of 512-byte blocks: a file costs a block, and the queue writes many small ones

flash = hostboard.Flash(BLOCKS, 512)
if flash.fresh():
    vfs.VfsLfs2.mkfs(flash)
vfs.mount(vfs.VfsLfs2(flash), "/")
os.chdir("/")
del os, vfs, hostboard, flash
