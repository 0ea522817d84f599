"""The plain receiver `lostcard bench sync` measures the collector against: Starlette, cbor2 and
one executemany per request into the collector's schema, with the collector's durability (the
store's insert_rows: WAL, synchronous=FULL, one transaction) and served by the collector's
uvicorn configuration. It checks nothing: no MAC, no record opened, no reply MAC'd.

    python -m lostcard_cpython.bench.plain_receiver DB PORT
"""

import sys
import time

import cbor2
import uvicorn
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..collector import bind, server_config
from ..collector_store import open_store


def make_app(store):
    async def batch(request):
        body = cbor2.loads(await request.body())
        device, now = body[1], int(time.time())
        rows = [(device, seq, None, "", "", "", 0, None, None, "", now, sealed)
                for seq, sealed in body[4]]
        await run_in_threadpool(store.insert_rows, rows)
        return Response(cbor2.dumps({1: rows[-1][1]}), media_type="application/cbor")

    async def health(request):
        return JSONResponse({"status": "ok"})

    return Starlette(routes=[Route("/v1/batch", batch, methods=["POST"]),
                             Route("/v1/health", health, methods=["GET"])])


def main(db, port):
    store = open_store(db)
    try:
        uvicorn.Server(server_config(make_app(store))).run(sockets=[bind("127.0.0.1", port)])
    finally:
        store.close()


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
