package io.nowconnect.watch;

import java.io.IOException;
import java.nio.file.ClosedWatchServiceException;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardWatchEventKinds;
import java.nio.file.WatchKey;
import java.nio.file.WatchService;
import java.time.Duration;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.logging.Level;
import java.util.logging.Logger;

import io.nowconnect.log.Event;

/**
 * Notices when the content of watched files changes, however they are replaced: an in-place write, a write to a
 * temporary file renamed over it (editors, {@code install}, Ansible), or the swap of a Kubernetes secret volume's
 * {@code ..data} symlink. It watches each file's directory (not the file), reads the file's content after a burst of
 * events has settled, and reports only a real change of content, so metadata-only and duplicate events do nothing.
 * A slow poll backs up the watch service for file systems that deliver no events.
 *
 * <p>Threads: one virtual thread waits on the watch service and calls the listener; the listener must not block long.
 */
public final class FileWatch implements AutoCloseable {
    private static final Logger LOGGER = Logger.getLogger(FileWatch.class.getName());

    private final Map<Path, byte[]> contents = new ConcurrentHashMap<>();
    private final Consumer<Path> listener;
    private final Duration debounce;
    private final Duration poll;
    private final WatchService service;
    private final Thread thread;
    private volatile boolean closed;

    private FileWatch(List<Path> files, Consumer<Path> listener, Duration debounce, Duration poll) throws IOException {
        this.listener = listener;
        this.debounce = debounce;
        this.poll = poll;
        this.service = FileSystems.getDefault().newWatchService();
        Set<Path> dirs = new HashSet<>();
        for (Path f : files) {
            Path abs = f.toAbsolutePath();
            contents.put(abs, read(abs));
            Path dir = abs.getParent();
            if (dirs.add(dir)) {
                dir.register(service, StandardWatchEventKinds.ENTRY_CREATE, StandardWatchEventKinds.ENTRY_MODIFY,
                             StandardWatchEventKinds.ENTRY_DELETE);
            }
        }
        this.thread = Thread.ofVirtual().name("nc-file-watch").start(this::run);
    }

    /**
     * Start watching.
     *
     * @param files files whose content matters
     * @param listener told the file whose content changed (called on the watch thread)
     * @param debounce quiet time after the last event before the content is compared
     * @param poll interval of the backup poll
     * @return the watch
     * @throws IOException when a directory cannot be watched
     */
    public static FileWatch start(List<Path> files, Consumer<Path> listener, Duration debounce, Duration poll)
            throws IOException {
        return new FileWatch(files, listener, debounce, poll);
    }

    @Override
    public void close() {
        closed = true;
        try {
            service.close();
        } catch (IOException ignored) {
            // closing
        }
        thread.interrupt();
    }

    private void run() {
        long lastPoll = System.nanoTime();
        while (!closed) {
            try {
                WatchKey key = service.poll(poll.toMillis(), TimeUnit.MILLISECONDS);
                if (key != null) {
                    key.pollEvents();
                    key.reset();
                    // let the burst settle: a rename, a symlink swap or a write in several steps
                    WatchKey more;
                    while ((more = service.poll(debounce.toMillis(), TimeUnit.MILLISECONDS)) != null) {
                        more.pollEvents();
                        more.reset();
                    }
                    compare();
                } else if (System.nanoTime() - lastPoll >= poll.toNanos()) {
                    lastPoll = System.nanoTime();
                    compare();
                }
            } catch (InterruptedException | ClosedWatchServiceException e) {
                return;
            } catch (RuntimeException e) {
                Event.of("file_watch_failed").log(LOGGER, Level.WARNING, "File watch error", e);
            }
        }
    }

    private void compare() {
        for (Map.Entry<Path, byte[]> e : contents.entrySet()) {
            byte[] now = read(e.getKey());
            if (!Arrays.equals(now, e.getValue())) {
                e.setValue(now);
                listener.accept(e.getKey());
            }
        }
    }

    private static byte[] read(Path p) {
        try {
            return Files.readAllBytes(p);
        } catch (IOException e) {
            // missing or unreadable counts as a content of its own: going away and coming back are both changes
            return new byte[] {-1};
        }
    }
}
