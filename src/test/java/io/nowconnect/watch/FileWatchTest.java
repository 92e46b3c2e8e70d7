package io.nowconnect.watch;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.FileTime;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

/**
 * The file watch on real files in a temporary directory, replaced in each way operators and platforms do it. Negative
 * cases are checked by order: a change that must not be reported is followed by one that must, and the first report
 * has to be the second file.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class FileWatchTest {
    private static final Duration DEBOUNCE = Duration.ofMillis(50);
    /** Long: the events must do the work, not the backup poll. */
    private static final Duration POLL = Duration.ofHours(1);
    private static final long WAIT_MS = 20_000;

    @TempDir
    Path dir;

    private final BlockingQueue<Path> changed = new LinkedBlockingQueue<>();
    private FileWatch watch;

    @AfterEach
    void close() {
        if (watch != null) {
            watch.close();
        }
    }

    private Path file(String name, String content) throws IOException {
        Path p = dir.resolve(name);
        Files.writeString(p, content);
        return p;
    }

    private void watch(Path... files) throws IOException {
        watch = FileWatch.start(List.of(files), changed::add, DEBOUNCE, POLL);
    }

    private Path nextChange() throws InterruptedException {
        Path p = changed.poll(WAIT_MS, TimeUnit.MILLISECONDS);
        if (p == null) {
            throw new AssertionError("no change reported within " + WAIT_MS + " ms");
        }
        return p;
    }

    @Test
    void anInPlaceWriteIsReported() throws Exception {
        Path token = file("token", "one");
        watch(token);
        Files.writeString(token, "two");
        assertEquals(token.toAbsolutePath(), nextChange());
        Files.writeString(token, "three");
        assertEquals(token.toAbsolutePath(), nextChange(), "every change, not only the first");
    }

    @Test
    void aFileRenamedOverTheWatchedOneIsReported() throws Exception {
        Path token = file("token", "one");
        watch(token);
        Path tmp = file(".token.tmp", "two");
        Files.move(tmp, token, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        assertEquals(token.toAbsolutePath(), nextChange());
    }

    @Test
    void aKubernetesSecretVolumeSwapIsReported() throws Exception {
        // the layout kubelet writes: token -> ..data/token, ..data -> ..<timestamp>/ swapped by a rename
        Files.createDirectory(dir.resolve("..2030_01_01_00_00_00.1"));
        Files.writeString(dir.resolve("..2030_01_01_00_00_00.1/token"), "one");
        Files.createSymbolicLink(dir.resolve("..data"), Path.of("..2030_01_01_00_00_00.1"));
        Path token = dir.resolve("token");
        Files.createSymbolicLink(token, Path.of("..data/token"));
        watch(token);

        Files.createDirectory(dir.resolve("..2030_01_01_00_10_00.2"));
        Files.writeString(dir.resolve("..2030_01_01_00_10_00.2/token"), "two");
        Files.createSymbolicLink(dir.resolve("..data_tmp"), Path.of("..2030_01_01_00_10_00.2"));
        Files.move(dir.resolve("..data_tmp"), dir.resolve("..data"), StandardCopyOption.ATOMIC_MOVE);
        Files.delete(dir.resolve("..2030_01_01_00_00_00.1/token"));
        Files.delete(dir.resolve("..2030_01_01_00_00_00.1"));
        assertEquals(token.toAbsolutePath(), nextChange());
        assertEquals("two", Files.readString(token));
    }

    @Test
    void aDeletedFileAndItsReturnAreBothReported() throws Exception {
        Path token = file("token", "one");
        watch(token);
        Files.delete(token);
        assertEquals(token.toAbsolutePath(), nextChange(), "going away is a change");
        Files.writeString(token, "one");
        assertEquals(token.toAbsolutePath(), nextChange(), "coming back, even with the old content, is a change");
    }

    @Test
    void metadataAndSameContentChangesAreNotReported() throws Exception {
        Path token = file("token", "one");
        Path other = file("other", "a");
        watch(token, other);
        Files.setLastModifiedTime(token, FileTime.from(Instant.now().plusSeconds(60)));
        // (an in-place rewrite is not atomic: between truncate and write the file is briefly empty, a real change)
        Path tmp = file(".token.tmp", "one");
        Files.move(tmp, token, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        Files.writeString(other, "b");
        assertEquals(other.toAbsolutePath(), nextChange(), "the untouched content of token is not reported");
        assertNull(changed.poll(), "and nothing else: " + changed);
    }

    @Test
    void filesInTwoDirectoriesAreWatchedAndACloseStopsReports() throws Exception {
        Path token = file("token", "one");
        Path sub = Files.createDirectory(dir.resolve("tls"));
        Path cert = sub.resolve("client.pem");
        Files.writeString(cert, "cert-one");
        watch(token, cert);
        Files.writeString(cert, "cert-two");
        assertEquals(cert.toAbsolutePath(), nextChange());
        Files.writeString(token, "two");
        assertEquals(token.toAbsolutePath(), nextChange());

        watch.close();
        Files.writeString(token, "three");
        FileWatch second = FileWatch.start(List.of(cert), changed::add, DEBOUNCE, POLL);
        try {
            Files.writeString(cert, "cert-three");
            assertEquals(cert.toAbsolutePath(), nextChange(), "the closed watch reported nothing");
        } finally {
            second.close();
        }
    }
}
