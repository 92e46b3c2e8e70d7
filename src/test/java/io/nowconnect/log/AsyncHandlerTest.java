package io.nowconnect.log;

import java.io.ByteArrayOutputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.logging.Formatter;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.StreamHandler;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link AsyncHandler}: a thread that logs never waits for the output, even when the output does not move at all;
 * what does not fit its bounded queue is dropped, counted and reported; lines keep their order; closing writes what was
 * queued.
 */
@Timeout(60)
class AsyncHandlerTest {
    private static final Formatter MESSAGE = new Formatter() {
        @Override
        public String format(LogRecord record) {
            return record.getMessage() + "\n";
        }
    };

    @Test
    void aLoggerNeverWaitsForAStuckOutputAndIsToldWhatWasDropped() throws Exception {
        CountDownLatch release = new CountDownLatch(1);
        ByteArrayOutputStream written = new ByteArrayOutputStream();
        OutputStream stuck = new OutputStream() {
            @Override
            public void write(int b) {
                write(new byte[] {(byte) b}, 0, 1);
            }

            @Override
            public void write(byte[] b, int off, int len) {
                try {
                    // a console nobody reads: the pipe is full
                    release.await();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
                synchronized (written) {
                    written.write(b, off, len);
                }
            }
        };
        AsyncHandler handler = new AsyncHandler(new StreamHandler(stuck, MESSAGE), "test-log");
        int records = 3 * AsyncHandler.CAPACITY;
        long start = System.nanoTime();
        for (int i = 0; i < records; i++) {
            handler.publish(new LogRecord(Level.INFO, "line " + i));
        }
        long tookMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
        assertTrue(tookMs < 2000, "publishing " + records + " records into a stuck output took " + tookMs + " ms");
        long dropped = handler.dropped();
        assertTrue(dropped >= records - AsyncHandler.CAPACITY - 256,
                   "at most the queue and a batch in hand were kept: dropped " + dropped);

        release.countDown();
        handler.flush();
        String out;
        synchronized (written) {
            out = written.toString(StandardCharsets.UTF_8);
        }
        List<String> lines = out.lines().toList();
        assertTrue(lines.contains("line 0"), "the first line is written once the output moves");
        assertTrue(lines.contains("Dropped " + dropped + " log records: logging could not keep up"),
                   "the drop is reported with its count: " + lines.stream().filter(l -> l.startsWith("Dropped")).toList());
        int previous = -1;
        for (String l : lines) {
            if (l.startsWith("line ")) {
                int n = Integer.parseInt(l.substring(5));
                assertTrue(n > previous, "lines keep their order: " + n + " after " + previous);
                previous = n;
            }
        }
        assertEquals(records - dropped, lines.stream().filter(l -> l.startsWith("line ")).count(),
                     "every record not dropped is written once");
        handler.close();
    }

    @Test
    void closeWritesWhatWasQueued() {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        AsyncHandler handler = new AsyncHandler(new StreamHandler(out, MESSAGE), "test-log");
        for (int i = 0; i < 1000; i++) {
            handler.publish(new LogRecord(Level.INFO, "line " + i));
        }
        handler.close();
        List<String> lines = out.toString(StandardCharsets.UTF_8).lines().toList();
        assertEquals(1000, lines.size());
        assertEquals("line 999", lines.getLast());
        handler.publish(new LogRecord(Level.INFO, "after close"));
        assertEquals(1000, out.toString(StandardCharsets.UTF_8).lines().count(), "nothing after close");
    }

    @Test
    void theTargetsLevelApplies() {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        StreamHandler target = new StreamHandler(out, MESSAGE);
        target.setLevel(Level.WARNING);
        AsyncHandler handler = new AsyncHandler(target, "test-log");
        handler.publish(new LogRecord(Level.INFO, "info"));
        handler.publish(new LogRecord(Level.WARNING, "warning"));
        handler.close();
        assertEquals(List.of("warning"), out.toString(StandardCharsets.UTF_8).lines().toList());
    }

    @Test
    void flushReturnsOnceEveryRecordPublishedBeforeItIsWritten() {
        // the writer thread may hold a record it took from the queue while flush() drains the (now empty) queue: flush
        // must still wait for that one (a test reading the access file right after flush() saw nothing, once)
        ByteArrayOutputStream written = new ByteArrayOutputStream();
        AsyncHandler handler = new AsyncHandler(new StreamHandler(written, MESSAGE), "test-log");
        try {
            for (int i = 0; i < 2000; i++) {
                String line = "record " + i;
                handler.publish(new LogRecord(Level.INFO, line));
                handler.flush();
                String out;
                synchronized (written) {
                    out = written.toString(StandardCharsets.UTF_8);
                }
                assertTrue(out.endsWith(line + "\n"), "written by the time flush() returned: " + line);
            }
        } finally {
            handler.close();
        }
    }
}
