package io.selectloop;

import static io.selectloop.TestSupport.anyLoopbackPort;
import static io.selectloop.TestSupport.connect;
import static io.selectloop.TestSupport.eventually;
import static io.selectloop.TestSupport.readFully;
import static io.selectloop.TestSupport.writeFully;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The blocked-loop watchdog, against handlers that block on purpose (the thing under test). */
class LoopWatchdogTest {
    private PrintStream originalErr;
    private final ByteArrayOutputStream log = new ByteArrayOutputStream();

    @BeforeEach
    void captureLog() {
        // slf4j-simple writes to whatever System.err is at the time: keep printing it, and keep a copy.
        originalErr = System.err;
        System.setErr(new PrintStream(new TeeStream(originalErr, log), true, StandardCharsets.UTF_8));
    }

    @AfterEach
    void restoreLog() {
        System.setErr(originalErr);
    }

    /**
     * Sleeps 300 ms, three times the default threshold, then holds the loop until the test
     * has seen the report, so that a watchdog thread slow to be scheduled on a busy machine
     * still finds the incident under way.
     */
    private static void blockingHandler(CountDownLatch reported) throws InterruptedException {
        Thread.sleep(300);
        assertTrue(reported.await(60, TimeUnit.SECONDS));
    }

    private static StreamServer blockingServer(EventLoop loop, CountDownLatch reported) throws Exception {
        return StreamServer.bind(loop, anyLoopbackPort(), () -> (c, data) -> {
            blockingHandler(reported);
            c.write(data);
        });
    }

    @Test
    void aHandlerThatSleepsIsReportedOnceWithTheLoopThreadsStack() throws Exception {
        EventLoop loop = EventLoop.start("watchdog-sleepy");
        try {
            CountDownLatch reported = new CountDownLatch(1);
            StreamServer server = blockingServer(loop, reported);
            try (SocketChannel ch = connect(server.localAddress())) {
                writeFully(ch, ByteBuffer.wrap(new byte[] {42}));
                // On a loaded machine an earlier callback (the accept, class loading) may have
                // been slow enough to count as well: what matters is the handler's incident.
                eventually().until(() -> log.toString(StandardCharsets.UTF_8).contains("LoopWatchdogTest.blockingHandler"));
                long incidents = loop.metrics().blockedIncidents();
                assertTrue(incidents >= 1, "counted in the metrics");
                // While the same callback goes on, the watchdog looks again and again: still one incident.
                long rounds = LoopWatchdog.rounds();
                eventually().until(() -> LoopWatchdog.rounds() >= rounds + 4);
                assertEquals(incidents, loop.metrics().blockedIncidents(), "one incident, however many times the watchdog looked");
                reported.countDown();
                assertEquals(42, readFully(ch, 1)[0], "the connection is served once the callback returns");
            }
            // The callback has ended once its flush reached us; its length is published at the end of the iteration.
            eventually().until(() -> loop.metrics().longestCallbackNanos() >= TimeUnit.MILLISECONDS.toNanos(300));

            String text = log.toString(StandardCharsets.UTF_8);
            // One warning per incident, each followed by its stack: the handler's is logged exactly once.
            String[] warnings = text.split("(?=event loop watchdog-sleepy is blocked)");
            List<String> handlers = new ArrayList<>();
            for (String w : warnings) {
                if (w.startsWith("event loop watchdog-sleepy is blocked") && w.contains("LoopWatchdogTest.blockingHandler")) {
                    handlers.add(w);
                }
            }
            assertEquals(1, handlers.size(), "the handler's incident is logged once: " + text);
            Matcher warning = Pattern.compile("event loop watchdog-sleepy is blocked: one callback has been running for (\\d+) ms "
                    + "\\(blockedThreshold 100 ms\\)").matcher(handlers.get(0));
            assertTrue(warning.find(), "the warning says so: " + handlers.get(0));
            assertTrue(Long.parseLong(warning.group(1)) >= 100, "it says how long the callback had run (the threshold, at least)");
            String stack = handlers.get(0).substring(handlers.get(0).indexOf("stack of watchdog-sleepy while blocked"));
            assertTrue(stack.contains("java.lang.Thread.sleep") || stack.contains("CountDownLatch.await"),
                    "the loop thread's stack, blocked where the handler blocks: " + stack);
            assertTrue(stack.contains("LoopWatchdogTest.blockingHandler"), "naming the handler: " + stack);
        } finally {
            loop.close();
        }
    }

    @Test
    void aZeroThresholdTurnsTheWatchdogOff() throws Exception {
        EventLoop unwatched = EventLoop.start("watchdog-off", LoopOptions.builder().blockedThreshold(Duration.ZERO).build());
        EventLoop watched = EventLoop.start("watchdog-on");
        try {
            CountDownLatch unwatchedReleased = new CountDownLatch(1);
            CountDownLatch watchedReported = new CountDownLatch(1);
            StreamServer quiet = blockingServer(unwatched, unwatchedReleased);
            StreamServer loud = blockingServer(watched, watchedReported);
            try (SocketChannel a = connect(quiet.localAddress()); SocketChannel b = connect(loud.localAddress())) {
                writeFully(a, ByteBuffer.wrap(new byte[] {1}));
                writeFully(b, ByteBuffer.wrap(new byte[] {2}));
                // Both loops are blocked at once; the watched one being reported proves the
                // watchdog ran past the threshold while the other was blocked too.
                eventually().until(() -> watched.metrics().blockedIncidents() == 1);
                watchedReported.countDown();
                unwatchedReleased.countDown();
                readFully(a, 1);
                readFully(b, 1);
            }
            assertEquals(0, unwatched.metrics().blockedIncidents());
            assertTrue(!log.toString(StandardCharsets.UTF_8).contains("event loop watchdog-off is blocked"));
        } finally {
            unwatched.close();
            watched.close();
        }
    }

    @Test
    void anApplicationThreadBusyBetweenRunOnceCallsIsNotABlockedLoop() throws Exception {
        EventLoop embedded = EventLoop.open();
        EventLoop watched = EventLoop.start("watchdog-clock");
        try {
            assertTrue(embedded.runOnce(0));
            // The application now does its own work between iterations, for as long as it
            // takes the other loop's blocking handler to be reported (over 100 ms).
            CountDownLatch reported = new CountDownLatch(1);
            StreamServer server = blockingServer(watched, reported);
            try (SocketChannel ch = connect(server.localAddress())) {
                writeFully(ch, ByteBuffer.wrap(new byte[] {3}));
                eventually().until(() -> watched.metrics().blockedIncidents() == 1);
                reported.countDown();
                readFully(ch, 1);
            }
            assertEquals(0, embedded.metrics().blockedIncidents());
        } finally {
            watched.close();
            embedded.close();
        }
    }

    /** Writes to two streams. */
    private static final class TeeStream extends OutputStream {
        private final OutputStream first;
        private final OutputStream second;

        TeeStream(OutputStream first, OutputStream second) {
            this.first = first;
            this.second = second;
        }

        @Override
        public void write(int b) throws java.io.IOException {
            first.write(b);
            synchronized (second) {
                second.write(b);
            }
        }

        @Override
        public void write(byte[] b, int off, int len) throws java.io.IOException {
            first.write(b, off, len);
            synchronized (second) {
                second.write(b, off, len);
            }
        }

        @Override
        public void flush() throws java.io.IOException {
            first.flush();
        }
    }
}
