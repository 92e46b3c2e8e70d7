package io.nowconnect.stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.InetSocketAddress;
import java.net.Socket;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A paced {@link Acceptor} sets up at most its number of connections at once: the next is accepted only when a set-up
 * ended (by its callback, or by the handler returning); the rest wait in the listen backlog, connected but not handed
 * over.
 */
@Timeout(30)
class AcceptorTest {
    @Test
    void aPacedAcceptorHandsOverNoMoreThanItsSetUpsAtOnce() throws Exception {
        LinkedBlockingQueue<Runnable> inSetUp = new LinkedBlockingQueue<>();
        AtomicInteger handed = new AtomicInteger();
        CountDownLatch done = new CountDownLatch(5);
        try (Acceptor acceptor = Acceptor.startPaced("127.0.0.1", 0, 50, "test-paced", 2, (socket, setUp) -> {
            handed.incrementAndGet();
            CountDownLatch ended = new CountDownLatch(1);
            inSetUp.add(() -> {
                setUp.run();
                ended.countDown();
            });
            try {
                ended.await();
                // ending the set-up twice (and again when this returns) frees one place only
                setUp.run();
                socket.close();
            } catch (Exception e) {
                throw new AssertionError(e);
            } finally {
                done.countDown();
            }
        })) {
            List<Socket> clients = new ArrayList<>();
            for (int i = 0; i < 5; i++) {
                Socket s = new Socket();
                s.connect(new InetSocketAddress("127.0.0.1", acceptor.port()), 2000);
                clients.add(s);
            }
            Runnable first = inSetUp.poll(5, TimeUnit.SECONDS);
            Runnable second = inSetUp.poll(5, TimeUnit.SECONDS);
            assertTrue(first != null && second != null, "two set-ups at once");
            assertEquals(null, inSetUp.poll(300, TimeUnit.MILLISECONDS), "no third while two are in set-up");
            assertEquals(2, handed.get());
            first.run();
            Runnable third = inSetUp.poll(5, TimeUnit.SECONDS);
            assertTrue(third != null, "the next one once a set-up ended");
            assertEquals(null, inSetUp.poll(300, TimeUnit.MILLISECONDS), "still two at most");
            second.run();
            third.run();
            for (int i = 0; i < 2; i++) {
                Runnable next = inSetUp.poll(5, TimeUnit.SECONDS);
                assertTrue(next != null, "the rest in turn");
                next.run();
            }
            assertTrue(done.await(5, TimeUnit.SECONDS), "every connection handed over in the end");
            assertEquals(5, handed.get());
            for (Socket s : clients) {
                s.close();
            }
        }
    }

    /**
     * What the listen backlog holds when {@link Acceptor#drainAndClose} is called is accepted and handed over (each
     * client here gets its byte echoed), not reset as {@link Acceptor#close} resets it; a connection after that is
     * refused at connect.
     */
    @Test
    void drainAndCloseHandsOverWhatTheBacklogHolds() throws Exception {
        CountDownLatch firstHeld = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        AtomicInteger handed = new AtomicInteger();
        Acceptor acceptor = Acceptor.startPaced("127.0.0.1", 0, 50, "test-drain", 1, (socket, setUp) -> {
            try (socket) {
                if (handed.getAndIncrement() == 0) {
                    // the one set-up in progress: the paced acceptor takes no other until it ends
                    firstHeld.countDown();
                    release.await();
                    setUp.run();
                }
                socket.getOutputStream().write(socket.getInputStream().read());
            } catch (Exception e) {
                // the client went away
            }
        });
        List<Socket> clients = new ArrayList<>();
        try {
            Socket first = connect(acceptor.port());
            assertTrue(firstHeld.await(5, TimeUnit.SECONDS));
            for (int i = 0; i < 20; i++) {
                clients.add(connect(acceptor.port()));
            }
            Thread.sleep(300);
            assertEquals(1, handed.get(), "the other 20 wait in the backlog, connected");
            acceptor.drainAndClose(java.time.Duration.ofSeconds(5));
            assertFalse(acceptor.isBound(), "closed once drained");
            for (Socket c : clients) {
                c.setSoTimeout(5000);
                c.getOutputStream().write(7);
                assertEquals(7, c.getInputStream().read(), "a client from the backlog is carried");
            }
            assertEquals(21, handed.get());
            assertThrows(java.net.ConnectException.class, () -> connect(acceptor.port()), "refused after the close");
            release.countDown();
            first.setSoTimeout(5000);
            first.getOutputStream().write(8);
            assertEquals(8, first.getInputStream().read(), "the set-up in progress goes on");
            first.close();
        } finally {
            release.countDown();
            acceptor.close();
            for (Socket c : clients) {
                c.close();
            }
        }
    }

    private static Socket connect(int port) throws java.io.IOException {
        Socket s = new Socket();
        try {
            s.connect(new InetSocketAddress("127.0.0.1", port), 2000);
            return s;
        } catch (java.io.IOException e) {
            s.close();
            throw e;
        }
    }
}
