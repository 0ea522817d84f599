# What the qemu-mps2-an385 firmware freezes besides lostcard: the boot script that mounts the flash.
# (No requests or asyncio: the board has no network; its terminal syncs over the serial console.)
freeze("$(BOARD_DIR)", "_boot.py")
