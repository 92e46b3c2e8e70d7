package io.nowconnect.stream;

import java.util.Collection;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.logging.Level;
import java.util.logging.Logger;

import io.nowconnect.log.Event;

/**
 * Fair shares of the process's {@link MemoryBudget} between tenants ({@link Account}: an {@code agent_id} on the hub,
 * a tunnel on the agent), and the policy of who pays when memory runs short. The budget only counts; this decides.
 *
 * <p>A tenant is <em>busy</em> while it has a stream open; the budget is shared between the busy tenants (the
 * references are HTTP/2 servers and fq_codel, RFC 8290: fairness is between the flows that have something queued).
 * The rules, one per kind of memory:
 * <ul>
 *     <li>Received data cannot be refused without losing it (the tunnel's reader never waits), so it is taken back
 *     instead: a tenant may hold more than its share ({@link #receivedShare}) while others leave memory unused, and
 *     when the received share is spent the tenant furthest over its share pays, its streams that hold the most reset
 *     first ({@code queue_overflow}); a tenant within its share is never reset while another is over. A tenant without
 *     flow control (a v1 agent) may not borrow: beyond its share its own streams pay at once.</li>
 *     <li>Data to send and window growth cannot be taken back quickly (frames queued behind a stalled tunnel, credit
 *     already granted), so they are never all lent: a tenant may hold at most {@code share / (busy + 1)}
 *     ({@link #sendingCap}, {@link #growthCap}), which always leaves room for one more busy tenant (the dynamic
 *     threshold of shared-memory switches, Choudhury and Hahne, 1998). A tenant whose tunnel stops reading holds at
 *     most its cap; the others keep sending.</li>
 *     <li>Window growth also comes back: a stream that holds nothing and has received nothing for
 *     {@link FlowControl#QUIET_NANOS} gives its growth back (its window returns to the initial one), and a tenant below
 *     its fair share of growth that finds the pool spent makes the tenant furthest over its fair share give back its
 *     largest grown window of a stream holding nothing. A stream waiting for its socket uses its window and keeps it.
 *     The credit such a stream was granted stays granted (see {@link FlowControl}): until its peer has used it, the
 *     growth pool is lent twice, and the received share is the hard stop for that.</li>
 * </ul>
 *
 * <p>Bounds: one account per tenant with a tunnel now (removed with its last tunnel). Threads: any; lock-free
 * (a concurrent map, atomics); the rare reclaim scans the accounts and the victim's streams on the thread that needs
 * the memory (a tunnel's reader).
 */
public final class Shares {
    private static final Logger LOGGER = Logger.getLogger(Shares.class.getName());
    /** Most streams one reclaim resets before it gives up (the requester's DATA is then refused). */
    private static final int MAX_RESETS_PER_RECLAIM = 64;

    private final MemoryBudget budget;
    private final ConcurrentHashMap<String, Account> accounts = new ConcurrentHashMap<>();
    private final AtomicInteger busy = new AtomicInteger();

    private Shares(MemoryBudget budget) {
        this.budget = budget;
    }

    /**
     * Shares of a budget.
     *
     * @param budget the process's budget
     * @return shares with no tenant yet
     */
    public static Shares of(MemoryBudget budget) {
        return new Shares(budget);
    }

    /**
     * The budget these shares divide.
     *
     * @return budget
     */
    public MemoryBudget budget() {
        return budget;
    }

    /**
     * The account of a tenant for one more of its tunnels (its table attaches to it, and detaches when the tunnel
     * ends).
     *
     * @param tenant the tenant: {@code agent_id} on the hub, a tunnel's own name on the agent
     * @return the tenant's account
     */
    public Account open(String tenant) {
        return accounts.compute(tenant, (k, a) -> {
            Account account = a == null ? new Account(this, k) : a;
            account.tunnels++;
            return account;
        });
    }

    void detached(Account account) {
        accounts.computeIfPresent(account.tenant(), (k, a) -> a != account || --a.tunnels > 0 ? a : null);
    }

    void busy(int delta) {
        busy.addAndGet(delta);
    }

    /**
     * Tenants with a stream open now.
     *
     * @return count
     */
    public int busyTenants() {
        return busy.get();
    }

    /**
     * The tenants with a tunnel now.
     *
     * @return accounts
     */
    public Collection<Account> accounts() {
        return List.copyOf(accounts.values());
    }

    /**
     * A busy tenant's fair share of the received share.
     *
     * @return bytes
     */
    public long receivedShare() {
        return budget.receivedLimit() / Math.max(1, busy.get());
    }

    /**
     * Most bytes to send one tenant may hold: the sending share over the busy tenants plus one, and for small frames
     * (an interactive request or answer) the same part of the budget's reserve for small frames on top, so that a
     * tenant's own bulk streams at their cap do not hold up its requests.
     *
     * @param small whether for a small frame
     * @return bytes
     */
    public long sendingCap(boolean small) {
        int parts = Math.max(1, busy.get()) + 1;
        return (budget.sendingLimit() + (small ? budget.smallReserve() : 0)) / parts;
    }

    /**
     * Most window growth one tenant may hold: the growth pool over the busy tenants plus one.
     *
     * @return bytes
     */
    public long growthCap() {
        return budget.growthPool() / (Math.max(1, busy.get()) + 1);
    }

    /**
     * Make room for {@code bytes} of received data for {@code requester} of {@code account}, and take them from the
     * budget. A tenant without flow control beyond its share pays with its own streams; otherwise, when the received
     * share is spent, the tenant furthest over its share pays, its streams holding the most first. The requester is a
     * candidate like any other of its tenant's streams: when it is reset, the DATA is refused.
     *
     * @param account the requester's tenant
     * @param bytes a {@link MemoryBudget#round}ed charge
     * @param requester the stream the DATA is for
     * @return whether the bytes were taken from the budget
     */
    boolean makeRoomToReceive(Account account, long bytes, Stream requester) {
        if (!requester.flowControlled()) {
            // no flow control, so no borrowing: beyond its share its own streams pay
            long share = receivedShare();
            Set<Stream> tried = new HashSet<>();
            while (account.received() + bytes > share) {
                Stream s = account.largestHolder();
                if (s == null || !tried.add(s) || tried.size() > MAX_RESETS_PER_RECLAIM) {
                    return false;
                }
                reclaimed(s, account, "over_share_v1");
                if (s == requester) {
                    return false;
                }
            }
        }
        if (budget.tryAcquire(bytes)) {
            return true;
        }
        Set<Stream> tried = new HashSet<>();
        while (!budget.tryAcquire(bytes)) {
            Account victim = furthestOverReceivedShare();
            // nobody over its share (charges in flight): the requester's tenant pays, as before shares
            Stream s = (victim == null ? account : victim).largestHolder();
            if (s == null || !tried.add(s) || tried.size() > MAX_RESETS_PER_RECLAIM) {
                return false;
            }
            reclaimed(s, victim == null ? account : victim, "budget_spent");
            if (s == requester) {
                return false;
            }
        }
        return true;
    }

    private Account furthestOverReceivedShare() {
        long share = receivedShare();
        Account worst = null;
        long most = 0;
        for (Account a : accounts.values()) {
            long over = a.received() - share;
            if (over > most) {
                worst = a;
                most = over;
            }
        }
        return worst;
    }

    private void reclaimed(Stream s, Account from, String why) {
        if (LOGGER.isLoggable(Level.FINE)) {
            Event.of("memory_reclaim").with("tenant", from.tenant()).with("reason", why)
                    .with("tenant_bytes", from.received()).with("share_bytes", receivedShare())
                    .log(LOGGER, Level.FINE, "Received memory taken back from the tenant furthest over its share");
        }
        s.overflow();
    }

    /**
     * A tenant's stream found the growth pool spent: when the tenant is below its fair share of growth, the tenant
     * furthest over its fair share gives back its largest grown window (its streams then return credit only down to
     * their initial windows), so the next try finds growth.
     *
     * @param account the refused tenant
     */
    void growthRefused(Account account) {
        long fair = budget.growthPool() / Math.max(1, busy.get());
        if (account.growth() >= fair) {
            return;
        }
        Account worst = null;
        long most = 0;
        for (Account a : accounts.values()) {
            long over = a.growth() - fair;
            if (a != account && over > most) {
                worst = a;
                most = over;
            }
        }
        if (worst != null) {
            Stream s = worst.largestGrown();
            if (s != null) {
                s.shrinkWindow();
            }
        }
    }
}
