# What the unix32 firmware freezes besides lostcard: the unix port's defaults (mip, ssl) and
# asyncio for sync_forever. (No requests: lostcard_mpy's transport is `socket` and `tls`.)
include("$(PORT_DIR)/variants/manifest.py")
include("$(MPY_DIR)/extmod/asyncio")
