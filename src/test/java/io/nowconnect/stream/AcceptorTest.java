package io.nowconnect.stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
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
}
