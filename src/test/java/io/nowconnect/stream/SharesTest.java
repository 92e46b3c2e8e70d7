package io.nowconnect.stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import io.nowconnect.protocol.Direction;
import io.nowconnect.protocol.Frame;
import io.nowconnect.protocol.ResetReason;

/**
 * Who pays when memory runs short ({@link Shares}): the tenant furthest over its share, never one within it; a tenant
 * without flow control pays with its own streams beyond its share; no tenant can take the whole sending share or
 * growth pool; a shrunk window keeps the credit already granted as a debt. Streams here are registered and never
 * started (no socket), so what they receive stays held.
 */
@Timeout(60)
class SharesTest {
    private static final int KIB = 1024;
    /** 4 MiB: the received share is 80 % of it. */
    private final MemoryBudget memory = MemoryBudget.create(4L << 20);
    private final Shares shares = Shares.of(memory);
    private final Set<String> reset = ConcurrentHashMap.newKeySet();

    @Test
    void theTenantFurthestOverItsSharePaysNotTheOneWithTheLargestStreams() {
        StreamTable a = table("agent-a", 8 << 20);
        StreamTable b = table("agent-b", 8 << 20);
        long share = memory.receivedLimit() / 2;
        // B: 2 streams of 600 KiB each (the largest streams of the process), 1.2 MiB: within its share of 1.6 MiB
        List<Stream> bs = List.of(open(b, "b1"), open(b, "b2"));
        for (Stream s : bs) {
            fill(s, 600 * KIB);
        }
        // A: 10 streams of 190 KiB each, 1.9 MiB: over its share
        List<Stream> as = new ArrayList<>();
        for (int i = 0; i < 10; i++) {
            Stream s = open(a, "a" + i);
            fill(s, 190 * KIB);
            as.add(s);
        }
        assertTrue(a.account().received() > share && b.account().received() < share,
                   "A over its share, B within: " + a.account() + " " + b.account() + " share " + share);
        // B receives more than the budget has left: A, furthest over its share, pays
        fill(bs.get(0), 300 * KIB);
        for (Stream s : bs) {
            assertFalse(s.isClosed(), "B within its share keeps its streams: " + reset);
        }
        assertTrue(as.stream().anyMatch(Stream::isClosed), "A's streams pay: " + a.account());
        assertTrue(reset.stream().allMatch(cid -> cid.startsWith("a")), "only A's streams were reset: " + reset);
        assertTrue(memory.used() <= memory.limit(), "within the budget");
        assertTrue(a.account().received() + b.account().received() <= memory.receivedLimit());
    }

    @Test
    void aTenantWithoutFlowControlPaysWithItsOwnStreamsBeyondItsShare() {
        StreamTable v1 = table("agent-v1", 0);
        StreamTable other = table("agent-b", 8 << 20);
        Stream quiet = open(other, "b1");
        fill(quiet, 4 * KIB);
        long share = memory.receivedLimit() / 2;
        Stream big = open(v1, "v1-big");
        Stream small = open(v1, "v1-small");
        fill(small, 100 * KIB);
        // v1 may not borrow: past its share of 1.6 MiB its own largest stream goes, though the budget has room
        fill(big, (int) share);
        assertTrue(big.isClosed(), "the v1 tenant's largest stream paid: " + v1.account());
        assertFalse(small.isClosed(), "its smaller stream stays");
        assertFalse(quiet.isClosed(), "the other tenant is untouched");
        assertTrue(v1.account().received() <= share, "v1 held within its share: " + v1.account());
        assertTrue(memory.used() < memory.limit() - 512 * KIB, "the budget was not what stopped it");
    }

    @Test
    void noTenantTakesTheWholeSendingShare() throws Exception {
        Account a = shares.open("agent-a");
        Account b = shares.open("agent-b");
        a.streamOpened();
        b.streamOpened();
        long frame = MemoryBudget.round(16 * KIB);
        long cap = shares.sendingCap(false);
        assertEquals(memory.sendingLimit() / 3, cap, "two busy tenants: each may hold a third");
        // A's tunnel stalls: its readers take what they can, then wait
        AtomicBoolean stop = new AtomicBoolean();
        CountDownLatch blocked = new CountDownLatch(1);
        Thread reader = Thread.ofVirtual().start(() -> {
            while (!stop.get()) {
                if (a.sending() + frame > cap) {
                    blocked.countDown();
                }
                if (!a.acquireToSend(frame, false, stop::get)) {
                    return;
                }
            }
        });
        assertTrue(blocked.await(10, TimeUnit.SECONDS), "A reached its cap");
        Thread.sleep(300);
        assertTrue(a.sending() <= cap, "A holds at most its cap: " + a.sending() + " of " + cap);
        // B is not held up by A's stall: it gets its bytes at once, up to its own cap
        long taken = 0;
        while (b.tryAcquireToSend(frame, false)) {
            taken += frame;
        }
        assertTrue(taken >= cap - frame, "B took " + taken + " of its cap " + cap);
        // A's frames drain: its reader goes on
        long before = a.sending();
        a.releaseSent(before);
        stop.set(true);
        reader.join(5000);
        assertFalse(reader.isAlive());
        a.releaseSent(a.sending());
        b.releaseSent(b.sending());
        assertEquals(0, memory.used(), "everything given back");
    }

    @Test
    void aSmallFrameAtItsTenantsCapGoesBeforeTheTenantsBulkFrames() throws Exception {
        Account a = shares.open("agent-a");
        a.streamOpened();
        long frame = MemoryBudget.round(16 * KIB);
        long small = MemoryBudget.round(KIB);
        // A at its cap for bulk frames, then for small ones too
        while (a.tryAcquireToSend(frame, false)) {
            // fill
        }
        while (a.tryAcquireToSend(small, true)) {
            // fill
        }
        AtomicBoolean stop = new AtomicBoolean();
        List<Thread> bulk = new ArrayList<>();
        for (int i = 0; i < 20; i++) {
            bulk.add(Thread.ofVirtual().start(() -> a.acquireToSend(frame, false, stop::get)));
        }
        Thread.sleep(100);
        CountDownLatch smallSent = new CountDownLatch(1);
        Thread request = Thread.ofVirtual().start(() -> {
            if (a.acquireToSend(small, true, stop::get)) {
                smallSent.countDown();
            }
        });
        Thread.sleep(20);
        // one small frame's worth goes out: it wakes the request, not the first of the 20 bulk frames queued before it
        // (which would find no room and wait again, leaving the request to its next look, up to 250 ms later)
        long released = System.nanoTime();
        a.releaseSent(small);
        assertTrue(smallSent.await(5, TimeUnit.SECONDS), "the request went");
        long ms = (System.nanoTime() - released) / 1_000_000;
        assertTrue(ms < 150, "the request went at the release, not at its next look: " + ms + " ms");
        stop.set(true);
        for (Thread t : bulk) {
            t.join(5000);
        }
        request.join(5000);
        a.releaseSent(a.sending());
        assertEquals(0, memory.used(), "everything given back");
    }

    @Test
    void noTenantTakesTheWholeGrowthPool() {
        Account a = shares.open("agent-a");
        Account b = shares.open("agent-b");
        a.streamOpened();
        long step = 64 * KIB;
        while (a.reserveGrowth(step)) {
            // A alone: up to half the pool
        }
        assertTrue(a.growth() <= memory.growthPool() / 2, "a lone tenant leaves half the pool: " + a.growth());
        b.streamOpened();
        assertTrue(b.reserveGrowth(step), "B still finds growth");
        a.releaseGrowth(a.growth());
        b.releaseGrowth(b.growth());
        assertEquals(memory.growthPool(), memory.growthLeft());
    }

    @Test
    void aShrunkWindowKeepsTheCreditAlreadyGrantedAsADebt() {
        Account account = shares.open("agent-a");
        account.streamOpened();
        int w = 64 * KIB;
        FlowControl flow = new FlowControl(w, w, account, new Wakes());
        assertTrue(flow.received(w / 2));
        long increment = flow.consumed(w / 2, true);
        assertEquals(w / 2 + w, increment, "credit back and the window doubled");
        assertEquals(w, account.growth());
        assertTrue(flow.received(2 * w - w / 2 + w / 2), "the peer uses its whole grown window");

        flow.shrink();
        assertEquals(w, flow.receiveWindow(), "back to the initial window");
        assertEquals(0, account.growth(), "growth back in the pool at once");
        assertEquals(memory.growthPool(), memory.growthLeft());
        // the peer had 2w unreturned: w of it is withheld (the debt), then credit flows for the initial window only
        assertEquals(0, flow.consumed(w, false), "the debt is repaid first");
        assertEquals(w, flow.consumed(w, false), "then credit goes back as before");
        assertTrue(flow.received(w), "the peer may have the initial window unreturned");
        assertFalse(flow.received(1), "and no more");
    }

    @Test
    void aGrownStreamIsQuietOnceItReceivedNothingForTheQuietTime() {
        Account account = shares.open("agent-a");
        account.streamOpened();
        int w = 64 * KIB;
        FlowControl flow = new FlowControl(w, w, account, new Wakes());
        flow.received(w / 2);
        flow.consumed(w / 2, true);
        assertTrue(account.growth() > 0);
        long now = System.nanoTime();
        assertFalse(flow.quietAndGrown(now), "just received");
        assertTrue(flow.quietAndGrown(now + FlowControl.QUIET_NANOS + 1), "quiet for long enough");
    }

    @Test
    void anAccountGoesWithItsLastTunnel() {
        StreamTable one = table("agent-a", 0);
        StreamTable two = table("agent-a", 0);
        assertEquals(1, shares.accounts().size(), "two tunnels of one agent_id share one account");
        one.closeAll(ResetReason.WS_BROKEN);
        assertEquals(1, shares.accounts().size());
        two.closeAll(ResetReason.WS_BROKEN);
        assertEquals(0, shares.accounts().size(), "no account without a tunnel");
    }

    /**
     * A sender waiting for its tenant's sending cap goes on as soon as bytes are given back: a release signals it,
     * also one that comes while it is on its way to wait (looked at again under the lock), so no sender waits for
     * {@link MemoryBudget#SEND_WAIT_MILLIS}, the timed wait that is only a safety net (every wait that runs out is a
     * wake-up from the JDK's timer thread).
     */
    @Test
    void aReleaseWakesAWaitingSenderAtOnce() throws Exception {
        Account account = table("agent-a", 8 << 20).account();
        long chunk = 16 * KIB;
        long cap = shares.sendingCap(false);
        long held = 0;
        while (held + chunk <= cap) {
            assertTrue(account.tryAcquireToSend(chunk, false));
            held += chunk;
        }
        assertFalse(account.tryAcquireToSend(chunk, false), "the tenant holds its cap");
        Random random = new Random(7);
        long slowest = 0;
        for (int i = 0; i < 2000; i++) {
            CountDownLatch ready = new CountDownLatch(1);
            long[] took = {-1};
            Thread waiter = Thread.ofVirtual().start(() -> {
                ready.countDown();
                long t0 = System.nanoTime();
                if (account.acquireToSend(chunk, false, () -> false)) {
                    took[0] = System.nanoTime() - t0;
                }
            });
            ready.await();
            // release at once (racing the waiter on its way to wait) or a little later (it waits already)
            int spin = random.nextInt(2) == 0 ? random.nextInt(200) : random.nextInt(20_000);
            for (int s = 0; s < spin; s++) {
                Thread.onSpinWait();
            }
            account.releaseSent(chunk);
            waiter.join();
            assertTrue(took[0] >= 0, "waiter " + i + " took the bytes");
            slowest = Math.max(slowest, took[0]);
        }
        assertTrue(TimeUnit.NANOSECONDS.toMillis(slowest) < MemoryBudget.SEND_WAIT_MILLIS * 4 / 5,
                   "slowest waiter took " + TimeUnit.NANOSECONDS.toMillis(slowest) + " ms");
        account.releaseSent(held);
    }

    private StreamTable table(String tenant, int window) {
        StreamTable t = StreamTable.create(new StreamSettings(64 * KIB, 100_000, Duration.ofMinutes(5),
                                                              Duration.ofSeconds(5), 100),
                                           new RecordingSink((frame, urgent) -> {
                                               if (frame instanceof Frame.Rst r) {
                                                   reset.add(r.cid());
                                               }
                                           }), Direction.C2A, new StreamObserver() { }, StreamBudget.create(100),
                                           shares.open(tenant));
        t.enableFlowControl(window);
        return t;
    }

    private static Stream open(StreamTable t, String cid) {
        try {
            return t.register(cid, "svc");
        } catch (StreamRefusedException e) {
            throw new AssertionError(e);
        }
    }

    /** Deliver {@code bytes} of DATA in 16 KiB frames (the stream has no socket: they stay held). */
    private static void fill(Stream s, int bytes) {
        long seq = 0;
        for (int left = bytes; left > 0 && !s.isClosed(); left -= 16 * KIB) {
            s.onData(new Frame.Data(s.cid(), seq++, new byte[Math.min(16 * KIB, left)]));
        }
    }
}
