package io.selectloop;

import static io.selectloop.TestSupport.anyLoopbackPort;
import static io.selectloop.TestSupport.connect;
import static io.selectloop.TestSupport.eventually;
import static io.selectloop.TestSupport.readFully;
import static io.selectloop.TestSupport.readToEnd;
import static io.selectloop.TestSupport.writeFully;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.CompletionException;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * A loop never dies silently: a fatal error ends it visibly (its termination future
 * fails with the cause, everything it held is closed), and an error that only concerns
 * one connection closes only that connection.
 */
class LoopFailureTest {
    private final EventLoop loop = EventLoop.start("failure-test");
    private final TestSupport.Events events = new TestSupport.Events();

    @AfterEach
    void closeLoop() {
        loop.close();
    }

    /**
     * The partial-frame flood report: an OutOfMemoryError killed the loop thread and left
     * a zombie that accepted nothing, answered nobody and ignored SIGTERM.
     */
    @Test
    void anOutOfMemoryErrorInAHandlerEndsTheLoopVisibly() throws Exception {
        OutOfMemoryError oom = new OutOfMemoryError("simulated");
        StreamServer server = StreamServer.bind(loop, anyLoopbackPort(), () -> new TestSupport.RecordingEcho(events) {
            @Override
            public void onData(Connection c, ByteBuffer data) throws Exception {
                if (data.get(data.position()) == '!') {
                    throw oom;
                }
                super.onData(c, data);
            }
        });
        try (SocketChannel bystander = connect(server.localAddress());
             SocketChannel culprit = connect(server.localAddress())) {
            echo(bystander, "before");
            writeFully(culprit, ByteBuffer.wrap("!".getBytes(StandardCharsets.US_ASCII)));
            java.util.concurrent.ExecutionException failed = assertThrows(java.util.concurrent.ExecutionException.class,
                    () -> loop.terminationFuture().get(60, TimeUnit.SECONDS));
            assertSame(oom, failed.getCause());
            assertTrue(loop.isTerminated());
            assertThrows(RejectedExecutionException.class, () -> loop.execute(() -> { }));
            // Everything the loop held is closed, so peers find out instead of hanging.
            readToEnd(bystander);
            eventually().until(() -> events.closed.size() == 2);
            assertTrue(server.isClosed(), "the listener is closed too");
        }
    }

    @Test
    void anOutOfMemoryErrorInATimerEndsTheLoop() {
        loop.schedule(() -> {
            throw new OutOfMemoryError("simulated in a timer");
        }, 1, TimeUnit.MILLISECONDS);
        CompletionException failed = assertThrows(CompletionException.class, () -> loop.terminationFuture().join());
        assertInstanceOf(OutOfMemoryError.class, failed.getCause());
    }

    /** Deep recursion in one handler is that handler's bug: its connection alone pays. */
    @Test
    void aStackOverflowInAHandlerClosesOnlyItsConnection() throws Exception {
        StreamServer server = StreamServer.bind(loop, anyLoopbackPort(), () -> new TestSupport.RecordingEcho(events) {
            @Override
            public void onData(Connection c, ByteBuffer data) throws Exception {
                if (data.get(data.position()) == '!') {
                    recurse(0);
                }
                super.onData(c, data);
            }

            private int recurse(int depth) {
                return recurse(depth + 1) + 1;
            }
        });
        try (SocketChannel bystander = connect(server.localAddress());
             SocketChannel culprit = connect(server.localAddress())) {
            writeFully(culprit, ByteBuffer.wrap("!".getBytes(StandardCharsets.US_ASCII)));
            assertEquals(0, readToEnd(culprit).length);
            eventually().until(() -> events.closed.size() == 1);
            assertInstanceOf(StackOverflowError.class, events.causes.get(events.closed.get(0)));
            echo(bystander, "still served");
            assertTrue(!loop.isTerminated() && !loop.terminationFuture().isDone());
        }
    }

    /** A group's loops fail one by one; each loop's own future says so at once. */
    @Test
    void aFailedLoopOfAGroupIsSeenOnItsOwnFuture() {
        try (EventLoopGroup group = EventLoopGroup.start(2, "failure-group")) {
            EventLoop first = group.loops().get(0);
            first.execute(() -> {
                throw new InternalError("simulated");
            });
            CompletionException failed = assertThrows(CompletionException.class, () -> first.terminationFuture().join());
            assertInstanceOf(InternalError.class, failed.getCause());
            assertTrue(!group.loops().get(1).isTerminated(), "the other loop goes on");
        }
    }

    private static void echo(SocketChannel ch, String text) throws Exception {
        byte[] bytes = text.getBytes(StandardCharsets.US_ASCII);
        writeFully(ch, ByteBuffer.wrap(bytes));
        assertEquals(text, new String(readFully(ch, bytes.length), StandardCharsets.US_ASCII));
    }
}
