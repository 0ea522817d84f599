"""Review of issue 15 (atk15): an attacker on the link between a terminal and its collector.

Fetch replies (docs/SYNC.md "Updates") carry no MAC of their own: only the whole object's MAC
authenticates what a terminal installs. These tests show what a forged or altered fetch reply
can still do to a terminal's state beyond the one download it spoiled.
"""

from lostcard import cbor
from lostcard.protocol import WATCHLIST
from update_collector import Collector, Platform, terminal
from queue_fakes import MemoryStorage
from update_objects import KEY, watchlist_body

WATCH = watchlist_body(70)  # 1,120 bytes: an object of two chunks


class OnTheLink(Collector):
    """The collector behind an attacker who rewrites the replies to fetches while `attack` is
    set: `attack(request, status, reply) -> (status, reply)`; None passes them on."""

    attack = None
    forge_only = False  # the attacker answers alone: the collector never sees the request

    def post(self, path, body, limit=256):
        if path == "/v1/update" and self.attack is not None and self.forge_only:
            return self.attack(cbor.decode(body), None, None)
        status, reply = Collector.post(self, path, body, limit)
        if path == "/v1/update" and self.attack is not None:
            return self.attack(cbor.decode(body), status, reply)
        return status, reply


def _flip_one_body_byte(request, status, reply):
    reply = cbor.decode(reply)
    if reply[3] == 1024:  # the second chunk: the body only
        chunk = bytearray(reply[4])
        chunk[0] ^= 1
        reply[4] = bytes(chunk)
    return status, cbor.encode(reply)


def test_one_altered_chunk_keeps_the_terminal_off_the_genuine_watchlist_for_good():
    """Severity: medium. One bit flipped by the link in one fetch reply makes the terminal
    refuse the collector's genuine, correctly MACed watchlist version 1 and remember it as `the
    version refused last` (_skip): it never asks for version 1 again, neither after the attacker
    has gone nor on later check-ins or batches (the offer says 1, 1 is skipped), until the
    acquirer publishes version 2 or the terminal reboots. An object whose MAC fails in transit
    is not a refusal of that version by its content; it should be fetched again (with backoff)."""
    collector = OnTheLink()
    platform = Platform(collector)
    t = terminal(platform, 1, checkin_s=600)
    collector.publish(WATCHLIST, WATCH)
    assert t.sync_step() == 1  # the batch; its verified offer says watchlist 1
    collector.attack = _flip_one_body_byte
    t.sync_step()  # chunk one
    t.sync_step()  # chunk two, altered: its reply MAC fails, nothing of it is taken
    assert t.status()["update_refused"] is None and t.status()["watchlist_version"] == 0
    collector.attack = None  # the attacker has gone; the link is clean from now on
    for _ in range(6):
        platform.now += 700  # past check-ins and any backoff
        terminal(platform, 1)  # a new incident: a batch, with the offer again
        for _ in range(4):
            t.sync_step()
    assert t.status()["watchlist_version"] == 1, (
        "the genuine watchlist v1 was never installed after one altered chunk; fetches: %r"
        % collector.fetches())


def test_a_forged_fetch_reply_erases_the_refusal_before_the_collector_hears_of_it():
    """Severity: low/medium. The issue asks that a refusal be reported in the next batch and
    shown in `collector stats`. fetch.step clears `update_refused` on any fetch reply that
    decodes ("the collector took it (its MAC checked)"), but the reply is not authenticated: an
    attacker who answers the terminal's next fetch itself (a check-in here) with a well-formed
    CBOR map makes the terminal forget the refusal; the collector never learns of it. Fix: keep
    update_refused until a reply that proves the collector received the request (an ack or
    offer MAC; or add a MAC over the fetch reply binding the request nonce)."""
    collector = OnTheLink()
    platform = Platform(collector)
    t = terminal(platform, 1, checkin_s=600)
    version = collector.publish(WATCHLIST, WATCH, key=b"\x42" * 32)  # refused by the terminal
    t.sync_step()
    t.sync_step()
    t.sync_step()
    refused = [WATCHLIST, version, "object MAC does not verify"]
    assert t.status()["update_refused"] == refused
    collector.forge_only = True
    collector.attack = lambda request, status, reply: (200, cbor.encode(
        {1: 0, 2: 0, 3: 0, 4: b""}))
    platform.now += 700  # a check-in is due: the attacker answers it
    t.sync_step()
    collector.attack = None
    collector.forge_only = False
    platform.now += 700
    terminal(platform, 1)
    for _ in range(3):
        t.sync_step()
    told = [s[4] for s in collector.seen if s[4] is not None and s[4][2] is not None]
    assert refused in [u[2] for u in told], (
        "the refusal never reached the collector: %r" % [s[4] for s in collector.seen])


class Checking(OnTheLink):
    """The collector checks the `updates` of each batch and fetch as the real one does
    (lostcard.collector.intake.check_updates: decode_batch and decode_fetch answer 400)."""

    def post(self, path, body, limit=256):
        from lostcard.collector import intake
        from lostcard.protocol import ProtocolError

        updates = cbor.decode(body).get(7)
        if updates is not None and not (path == "/v1/update" and self.forge_only
                                        and self.attack is not None):
            try:
                intake.check_updates(updates, "request")
            except ProtocolError:
                self.seen.append((path, None, None, None, updates))
                return 400, b""
        return OnTheLink.post(self, path, body, limit)


class _Storage(MemoryStorage):
    def remove(self, name):  # as the ports' storages do (the fake raises KeyError)
        if name not in self.files:
            raise OSError(2, name)
        MemoryStorage.remove(self, name)


class _Platform(Platform):
    def storage(self, path):
        return _Storage(self.files)


def test_one_forged_fetch_reply_cuts_the_terminal_off_its_collector_until_it_reboots():
    """Severity: HIGH. The fetch reply's version (key 1) is not authenticated and not bounded:
    a forged reply with version 2**32 (above the uint32 a header holds) and any chunk is
    refused, and fetch.step records update_refused = [kind, 4294967296, ...]. That refusal rides
    in key 7 of every later batch and fetch, whose check on the collector (intake.check_updates:
    version <= MAX_VERSION) answers 400; update_refused is cleared only by an acknowledged batch
    or a decoded fetch reply, so no batch is ever acknowledged again: incidents pile up in the
    queue until eviction, the link looks down, no update is installed, until a reboot. Fix:
    in fetch.step refuse a reply whose version is not an int in 1..2**32-1 (and total/offset not
    ints within MAX_TOTAL) *before* touching _offer/_skip/update_refused; never put an
    unauthenticated number into update_refused (report the offered version, which is MACed);
    and on the collector, clamp/ignore a malformed `refused` rather than refusing the batch."""
    collector = Checking()
    platform = _Platform(collector)
    t = terminal(platform, 1, checkin_s=600)
    assert t.sync_step() == 1  # acknowledged; the offer [0, 0]
    collector.forge_only = True
    collector.attack = lambda request, status, reply: (200, cbor.encode(
        {1: 1 << 32, 2: 100, 3: 0, 4: b"x" * 100}))
    platform.now += 700  # a check-in is due: the attacker answers it
    t.sync_step()
    collector.attack = None  # gone: the link is clean from now on
    collector.forge_only = False
    acked = 0
    for _ in range(5):
        platform.now += 1000  # past any backoff
        terminal(platform, 1)
        for _ in range(3):
            acked += t.sync_step()
    assert acked > 0, ("no batch acknowledged after one forged fetch reply: status %r, requests "
                       "%r" % (t.status().get("update_refused"), collector.seen[-3:]))


def test_forged_fetch_replies_keep_the_terminal_fetching_and_rewriting_flash_without_end():
    """Severity: medium. A forged fetch reply naming a version one above the last one (key 1, not
    authenticated, not bounded by the MACed offer) with the first 1,024 bytes of a plausible
    object makes fetch.step start a new partial (a 1 KiB flash write), never a refusal, and leave
    `updating` True: `a caller may step again at once`. An attacker who keeps doing this keeps the
    terminal fetching back to back for as long as it likes (radio, the collector's /v1/update
    budget, and a flash write per step: wear), with no refusal ever shown or reported. Fix: do
    not chase a version above the verified offer within a download (restart only on a
    check-in), and bound the restarts of a download per check-in interval."""
    collector = OnTheLink()
    platform = _Platform(collector)
    t = terminal(platform, 1, checkin_s=600)
    assert t.sync_step() == 1
    writes = []
    storage_replace = _Storage.replace

    def counting(self, name, data):
        writes.append(name)
        storage_replace(self, name, data)

    _Storage.replace = counting
    try:
        versions = iter(range(1, 10 ** 6))

        def forge(request, status, reply):
            v = next(versions)
            head = b"LCU1\x02\x00\x00\x00" + v.to_bytes(4, "big") + (4000).to_bytes(4, "big")
            return 200, cbor.encode({1: v, 2: 4032, 3: 0, 4: head + bytes(16) + bytes(992)})

        collector.forge_only = True
        collector.attack = forge
        platform.now += 700  # a check-in is due: the attacker answers it, and every fetch after
        steps = 0
        t.sync_step()
        while t.updating and steps < 100:
            t.sync_step()
            steps += 1
    finally:
        _Storage.replace = storage_replace
    assert steps < 100, ("100 back-to-back fetch steps and still updating; %d partial rewrites; "
                         "refused: %r" % (writes.count("watch.new"), t.status()["update_refused"]))


def test_a_replayed_or_altered_fetch_reply_is_refused_before_anything_is_written():
    """The reply MAC binds a fetch reply to its fetch's fresh nonce (docs/SYNC.md "Updates"): a
    genuine reply captured earlier and played back to a later fetch, or one whose version was
    changed, is refused ("reply not authenticated") before the terminal writes its partial copy
    or takes a number from it; once the link is clean the download goes on."""
    collector = OnTheLink()
    platform = _Platform(collector)
    t = terminal(platform, 1, checkin_s=600)
    collector.publish(WATCHLIST, WATCH)
    assert t.sync_step() == 1  # the batch; its verified offer says watchlist 1
    captured = []
    collector.attack = lambda request, status, reply: (captured.append(reply), (status, reply))[1]
    t.sync_step()  # chunk one, genuine
    files = dict(platform.files)
    offer = list(t._offer)

    def bumped(request, status, reply):
        r = cbor.decode(reply)
        r[1] += 1
        return status, cbor.encode(r)

    for attack in (lambda request, status, reply: (status, captured[0]), bumped):
        collector.attack = attack
        platform.now += 700  # past any backoff
        t.sync_step()
        assert platform.files == files and t._offer == offer
        assert t.status()["update_refused"] is None and t.status()["watchlist_version"] == 0
    collector.attack = None
    for _ in range(4):
        platform.now += 700
        t.sync_step()
    assert t.status()["watchlist_version"] == 1
