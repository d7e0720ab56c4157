package io.selectloop;

import static io.selectloop.TestSupport.eventually;
import static java.nio.channels.SelectionKey.OP_READ;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.channels.Pipe;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The selectors-style layer: any SelectableChannel (here a Pipe) driven by an IoHandler. */
class RegistrationTest {
    private EventLoop loop;
    private Pipe pipe;

    @BeforeEach
    void setUp() throws Exception {
        loop = EventLoop.start("registration");
        pipe = Pipe.open();
    }

    @AfterEach
    void tearDown() throws Exception {
        loop.close();
        pipe.sink().close();
        pipe.source().close();
    }

    private <T> T onLoop(Callable<T> action) throws Exception {
        return TestSupport.onLoop(loop, action);
    }

    /** Reads whatever the pipe has into {@code sink}; counts callbacks. */
    private static IoHandler reader(ByteArrayOutputStream sink, AtomicInteger calls) {
        return (registration, readyOps) -> {
            calls.incrementAndGet();
            ByteBuffer b = ByteBuffer.allocate(1024);
            int n = ((Pipe.SourceChannel) registration.channel()).read(b);
            synchronized (sink) {
                sink.write(b.array(), 0, Math.max(n, 0));
            }
        };
    }

    private static String text(ByteArrayOutputStream sink) {
        synchronized (sink) {
            return sink.toString(java.nio.charset.StandardCharsets.US_ASCII);
        }
    }

    @Test
    void readinessCallsTheHandlerWithItsRegistration() throws Exception {
        ByteArrayOutputStream got = new ByteArrayOutputStream();
        AtomicInteger calls = new AtomicInteger();
        Object marker = new Object();
        Registration r = onLoop(() -> loop.register(pipe.source(), OP_READ, reader(got, calls), marker));
        assertFalse(pipe.source().isBlocking(), "register switches the channel to non-blocking");
        assertSame(pipe.source(), r.channel());
        assertSame(loop, r.loop());
        assertSame(marker, onLoop(r::attachment));
        assertEquals(OP_READ, (int) onLoop(r::interestOps));

        pipe.sink().write(ByteBuffer.wrap("hello".getBytes()));
        eventually().until(() -> text(got).equals("hello"));

        Object other = new Object();
        assertSame(marker, onLoop(() -> r.attach(other)));
        assertSame(other, onLoop(r::attachment));
    }

    @Test
    void interestZeroSilencesAndRestoringItResumes() throws Exception {
        ByteArrayOutputStream got = new ByteArrayOutputStream();
        AtomicInteger calls = new AtomicInteger();
        Registration r = onLoop(() -> loop.register(pipe.source(), OP_READ, reader(got, calls)));
        onLoop(() -> r.interestOps(0));
        pipe.sink().write(ByteBuffer.wrap("queued".getBytes()));
        // A full round of the loop with data waiting: still no callback.
        onLoop(() -> null);
        onLoop(() -> null);
        assertEquals(0, calls.get());
        onLoop(() -> r.interestOps(OP_READ));
        eventually().until(() -> text(got).equals("queued"));
    }

    @Test
    void cancelStopsCallbacksButLeavesTheChannelOpen() throws Exception {
        ByteArrayOutputStream got = new ByteArrayOutputStream();
        AtomicInteger calls = new AtomicInteger();
        Registration r = onLoop(() -> loop.register(pipe.source(), OP_READ, reader(got, calls)));
        onLoop(() -> {
            r.cancel();
            return null;
        });
        assertFalse(r.isValid());
        assertTrue(pipe.source().isOpen(), "like selectors.unregister, cancel does not close");
        pipe.sink().write(ByteBuffer.wrap("x".getBytes()));
        onLoop(() -> null);
        onLoop(() -> null);
        assertEquals(0, calls.get());
    }

    @Test
    void aThrowingHandlerClosesOnlyItsOwnChannel() throws Exception {
        Pipe other = Pipe.open();
        try {
            ByteArrayOutputStream got = new ByteArrayOutputStream();
            AtomicInteger calls = new AtomicInteger();
            Registration bad = onLoop(() -> loop.register(pipe.source(), OP_READ, (reg, ops) -> {
                throw new IllegalStateException("handler boom (expected by the test)");
            }));
            onLoop(() -> loop.register(other.source(), OP_READ, reader(got, calls)));
            pipe.sink().write(ByteBuffer.wrap("x".getBytes()));
            eventually().until(() -> !pipe.source().isOpen());
            assertFalse(bad.isValid());
            other.sink().write(ByteBuffer.wrap("still served".getBytes()));
            eventually().until(() -> text(got).equals("still served"));
        } finally {
            other.sink().close();
            other.source().close();
        }
    }

    @Test
    void registrationsSurviveASelectorRebuild() throws Exception {
        ByteArrayOutputStream got = new ByteArrayOutputStream();
        AtomicInteger calls = new AtomicInteger();
        Object marker = new Object();
        Registration r = onLoop(() -> loop.register(pipe.source(), OP_READ, reader(got, calls), marker));
        onLoop(() -> {
            loop.rebuildSelector();
            return null;
        });
        assertEquals(1, loop.selectorRebuilds);
        assertTrue(r.isValid());
        assertEquals(OP_READ, (int) onLoop(r::interestOps));
        assertSame(marker, onLoop(r::attachment));
        pipe.sink().write(ByteBuffer.wrap("after rebuild".getBytes()));
        eventually().until(() -> text(got).equals("after rebuild"));
    }

    @Test
    void registrationMethodsAreLoopThreadOnly() throws Exception {
        Registration r = onLoop(() -> loop.register(pipe.source(), OP_READ, (reg, ops) -> { }));
        assertThrows(IllegalStateException.class, r::interestOps);
        assertThrows(IllegalStateException.class, () -> r.interestOps(0));
        assertThrows(IllegalStateException.class, r::attachment);
        assertThrows(IllegalStateException.class, r::cancel);
        assertTrue(r.isValid(), "isValid is safe from any thread");
    }

    @Test
    void terminationClosesChannelsStillRegistered() throws Exception {
        onLoop(() -> loop.register(pipe.source(), OP_READ, (reg, ops) -> { }));
        loop.close();
        assertFalse(pipe.source().isOpen());
    }

    /**
     * A channel whose registration was cancelled is the user's again (as with selectors'
     * unregister): terminating the loop must leave it open. Termination used to close
     * every key the selector still listed, and a cancelled key stays listed until the
     * next select, so a close in the same iteration as the cancel closed the channel.
     */
    @Test
    void terminationLeavesAChannelUnregisteredJustBeforeItOpen() throws Exception {
        Registration r = onLoop(() -> loop.register(pipe.source(), OP_READ, (reg, ops) -> { }));
        onLoop(() -> {
            r.cancel();
            loop.close(); // on the loop thread: terminates at the end of this iteration
            return null;
        });
        loop.terminationFuture().get(10, TimeUnit.SECONDS);
        assertTrue(pipe.source().isOpen(), "the loop closed a channel it no longer owned");
        pipe.sink().write(ByteBuffer.wrap("x".getBytes()));
        assertEquals(1, pipe.source().read(ByteBuffer.allocate(1)), "still usable by its owner");
    }
}
