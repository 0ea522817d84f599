# What the unix32 firmware freezes besides lostcard: the unix port's defaults (mip, ssl),
# asyncio for sync_forever, and micropython-lib's requests for the HTTP transport.
include("$(PORT_DIR)/variants/manifest.py")
include("$(MPY_DIR)/extmod/asyncio")
require("requests")
