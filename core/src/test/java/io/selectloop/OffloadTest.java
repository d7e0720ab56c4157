package io.selectloop;

import static io.selectloop.TestSupport.anyLoopbackPort;
import static io.selectloop.TestSupport.connect;
import static io.selectloop.TestSupport.eventually;
import static io.selectloop.TestSupport.readFully;
import static io.selectloop.TestSupport.writeFully;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** {@link EventLoop#offload} and {@link WorkerPool}: blocking work off the loop, and its result back on it. */
class OffloadTest {
    private EventLoop loop;
    private WorkerPool workers;

    @BeforeEach
    void start() {
        loop = EventLoop.start("offload-loop");
        workers = WorkerPool.start("offload-worker", 2, 4);
    }

    @AfterEach
    void stop() {
        workers.close();
        loop.close();
    }

    @Test
    void theWorkRunsOnAWorkerAndItsContinuationOnTheLoopThread() throws Exception {
        AtomicReference<Thread> workedOn = new AtomicReference<>();
        AtomicReference<Thread> continuedOn = new AtomicReference<>();
        AtomicReference<Thread> loopThread = new AtomicReference<>();
        StreamServer server = StreamServer.bind(loop, anyLoopbackPort(), () -> (c, data) -> {
            loopThread.set(Thread.currentThread());
            String text = StandardCharsets.UTF_8.decode(data).toString();
            loop.offload(() -> {
                workedOn.set(Thread.currentThread());
                return text.toUpperCase();
            }, workers).thenAccept(upper -> {
                continuedOn.set(Thread.currentThread());
                c.write(upper.getBytes(StandardCharsets.UTF_8));
            });
        });
        try (SocketChannel ch = connect(server.localAddress())) {
            writeFully(ch, ByteBuffer.wrap("shout".getBytes(StandardCharsets.UTF_8)));
            assertEquals("SHOUT", new String(readFully(ch, 5), StandardCharsets.UTF_8));
        }
        assertTrue(workedOn.get().getName().startsWith("offload-worker-"), workedOn.get().getName());
        assertSame(loopThread.get(), continuedOn.get(), "the continuation ran on the loop thread");
        assertNotSame(loopThread.get(), workedOn.get());
    }

    @Test
    void aFutureOffloadedFromAnotherThreadAlsoCompletesOnTheLoop() throws Exception {
        CompletableFuture<Thread> completedOn = new CompletableFuture<>();
        CompletableFuture<Integer> result = loop.offload(() -> 42, workers);
        // A stage chained with the *Async variant and no executor runs on the loop whenever it is chained.
        result.thenRunAsync(() -> completedOn.complete(Thread.currentThread()));
        assertEquals(42, result.get(60, TimeUnit.SECONDS));
        Thread loopThread = TestSupport.onLoop(loop, Thread::currentThread);
        assertSame(loopThread, completedOn.get(60, TimeUnit.SECONDS));
    }

    @Test
    void failedWorkFailsTheFutureWithItsOwnException() throws Exception {
        CompletableFuture<Throwable> seen = new CompletableFuture<>();
        loop.execute(() -> loop.offload(() -> {
            throw new java.io.FileNotFoundException("no such row");
        }, workers).whenComplete((value, error) -> seen.complete(error)));
        Throwable error = seen.get(60, TimeUnit.SECONDS);
        assertInstanceOf(java.io.FileNotFoundException.class, error);
        assertEquals("no such row", error.getMessage());
    }

    @Test
    void aFullPoolRefusesAtOnceWithAClearError() throws Exception {
        CountDownLatch release = new CountDownLatch(1);
        try {
            for (int i = 0; i < 6; i++) { // 2 threads busy, 4 jobs waiting: full
                loop.offload(() -> release.await(60, TimeUnit.SECONDS), workers);
            }
            eventually().until(() -> workers.active() == 2 && workers.queued() == 4);
            CompletableFuture<Boolean> refused = loop.offload(() -> true, workers);
            ExecutionException e = assertThrows(ExecutionException.class, () -> refused.get(60, TimeUnit.SECONDS));
            assertInstanceOf(RejectedExecutionException.class, e.getCause());
            assertEquals("worker pool offload-worker is full: 2 threads busy and 4 jobs waiting", e.getCause().getMessage());
        } finally {
            release.countDown();
        }
    }

    @Test
    void workCancelledBeforeItStartsNeverRuns() throws Exception {
        CountDownLatch release = new CountDownLatch(1);
        AtomicInteger ran = new AtomicInteger();
        try (WorkerPool single = WorkerPool.start("single", 1, 4)) {
            single.execute(() -> {
                try {
                    release.await(60, TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            });
            CompletableFuture<Integer> cancelled = loop.offload(ran::incrementAndGet, single);
            assertTrue(cancelled.cancel(false));
            release.countDown();
            assertEquals(1, loop.offload(() -> 1, single).get(60, TimeUnit.SECONDS)); // runs after the cancelled one
            assertEquals(0, ran.get());
            assertThrows(CancellationException.class, cancelled::join);
        }
    }

    @Test
    void writingToAConnectionThatClosedMeanwhileIsDroppedAndCounted() throws Exception {
        CountDownLatch peerGone = new CountDownLatch(1);
        CompletableFuture<Boolean> continued = new CompletableFuture<>();
        StreamServer server = StreamServer.bind(loop, anyLoopbackPort(), () -> new Handler() {
            @Override
            public void onData(Connection c, ByteBuffer data) {
                data.position(data.limit());
                loop.offload(() -> peerGone.await(60, TimeUnit.SECONDS), workers).thenAccept(ok -> {
                    c.write("too late".getBytes(StandardCharsets.UTF_8)); // the connection is closed by now
                    continued.complete(c.isOpen());
                });
            }

            @Override
            public void onClose(Connection c, Throwable cause) {
                peerGone.countDown();
            }
        });
        try (SocketChannel ch = connect(server.localAddress())) {
            writeFully(ch, ByteBuffer.wrap(new byte[] {1}));
            eventually().until(() -> server.metrics().bytesRead() == 1);
        }
        assertEquals(false, continued.get(60, TimeUnit.SECONDS), "the continuation ran after the close");
        eventually().until(() -> server.metrics().droppedWrites() == 1);
        assertEquals(8, server.metrics().droppedBytes());
    }

    @Test
    void aLoopThatTerminatesBeforeTheResultFailsTheFutureSayingSo() throws Exception {
        CountDownLatch release = new CountDownLatch(1);
        CompletableFuture<Boolean> result = loop.offload(() -> release.await(60, TimeUnit.SECONDS), workers);
        loop.close();
        release.countDown();
        ExecutionException e = assertThrows(ExecutionException.class, () -> result.get(60, TimeUnit.SECONDS));
        assertInstanceOf(RejectedExecutionException.class, e.getCause());
        assertTrue(e.getCause().getMessage().contains("terminated"), e.getCause().getMessage());
    }

    @Test
    void closingThePoolFailsTheWorkStillWaiting() throws Exception {
        CountDownLatch never = new CountDownLatch(1);
        WorkerPool single = WorkerPool.start("closing", 1, 4);
        single.execute(() -> {
            try {
                never.await(60, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt(); // close() interrupts the running job
            }
        });
        CompletableFuture<Integer> waiting = loop.offload(() -> 1, single);
        eventually().until(() -> single.queued() == 1);
        single.close();
        ExecutionException e = assertThrows(ExecutionException.class, () -> waiting.get(60, TimeUnit.SECONDS));
        assertEquals("worker pool closing was closed before this job started", e.getCause().getMessage());
        RejectedExecutionException after = assertThrows(RejectedExecutionException.class, () -> single.execute(() -> { }));
        assertEquals("worker pool closing is closed", after.getMessage());
    }

    @Test
    void theReadmeOffloadExampleRunsVerbatim(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir) throws Exception {
        EmbeddingTest.compileReadmeBlock("OffloadExample", dir);
        Process example = new ProcessBuilder(java.nio.file.Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp", dir + java.io.File.pathSeparator + System.getProperty("java.class.path"), "OffloadExample")
                .redirectError(ProcessBuilder.Redirect.INHERIT).start();
        String output = new String(example.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(example.waitFor(60, TimeUnit.SECONDS), "the example ends by itself");
        assertEquals(0, example.exitValue(), output);
        assertTrue(output.lines().anyMatch("hello -> HELLO"::equals), output);
        assertTrue(output.lines().anyMatch("world -> WORLD"::equals), output);
    }
}
