package io.selectloop;

import static io.selectloop.TestSupport.anyLoopbackPort;
import static io.selectloop.TestSupport.connect;
import static io.selectloop.TestSupport.eventually;
import static io.selectloop.TestSupport.readFully;
import static io.selectloop.TestSupport.writeFully;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.SocketChannel;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The buffer {@code onData} receives: a view of exactly the bytes of this read, reused
 * between reads (issue 14) but never showing a handler another peer's bytes or the state
 * a previous handler left in it.
 */
class ReadViewsTest {
    private EventLoop loop;

    @BeforeEach
    void startLoop() {
        loop = EventLoop.start("read-views-test");
    }

    @AfterEach
    void closeLoop() {
        loop.close();
    }

    /** What one onData call saw, taken during the call (the view is not valid after it). */
    private record Seen(int position, int limit, int capacity, ByteOrder order, byte[] all) {
    }

    /**
     * Peer A fills the front of the loop's read buffer with 'A's; then peer B's reads of
     * 10 bytes each come to a handler that clears its view (reaching for the whole
     * capacity), moves it, marks it and turns it little-endian. Every view B's handler
     * gets still starts at 0, ends at its 10 bytes, is big-endian and holds only 'B's.
     */
    @Test
    void aReusedViewShowsOnlyThisReadAndNothingAPreviousHandlerLeft() throws Exception {
        List<Seen> seenByB = new CopyOnWriteArrayList<>();
        StreamServer server = StreamServer.bind(loop, anyLoopbackPort(), () -> (c, data) -> {
            if (data.get(0) != 'B') {
                return; // peer A: only there to leave its bytes in the shared buffer
            }
            Seen seen = new Seen(data.position(), data.limit(), data.capacity(), data.order(), null);
            data.clear();
            byte[] all = new byte[data.remaining()];
            data.get(all);
            seenByB.add(new Seen(seen.position(), seen.limit(), seen.capacity(), seen.order(), all));
            // Leave the view in a state the next reader of the same length must not inherit.
            data.position(3).mark();
            data.position(7);
            data.order(ByteOrder.LITTLE_ENDIAN);
        });
        try (SocketChannel a = connect(server.localAddress()); SocketChannel b = connect(server.localAddress())) {
            byte[] manyA = new byte[4096];
            Arrays.fill(manyA, (byte) 'A');
            writeFully(a, ByteBuffer.wrap(manyA));
            byte[] tenB = new byte[10];
            Arrays.fill(tenB, (byte) 'B');
            for (int i = 0; i < 5; i++) {
                int expected = i + 1;
                writeFully(b, ByteBuffer.wrap(tenB));
                eventually().until(() -> seenByB.size() >= expected);
            }
        }
        assertEquals(5, seenByB.size(), "one read per 10-byte send (each sent after the last was seen)");
        for (Seen seen : seenByB) {
            assertEquals(0, seen.position());
            assertEquals(10, seen.limit());
            assertEquals(10, seen.capacity(), "the view ends at this read's bytes");
            assertEquals(ByteOrder.BIG_ENDIAN, seen.order());
            byte[] tenB = new byte[10];
            Arrays.fill(tenB, (byte) 'B');
            assertArrayEquals(tenB, seen.all(), "nothing of peer A's bytes");
        }
    }

    /**
     * The raw echo path allocates nothing per message in steady state (issue 14). A
     * client does 30,000 ping-pongs of 64 bytes to warm up, then 20,000 more, and the loop
     * thread's allocated bytes over those are divided by the message count. A new slice
     * per read (what this replaced) alone was about 64 bytes a message; the JDK's epoll
     * selector boxes a ready descriptor above 127 into an Integer (16 bytes) on its own,
     * so the bound is set between the two.
     */
    @Test
    void theEchoPathAllocatesLessThanAnObjectPerMessage() throws Exception {
        StreamServer server = StreamServer.bind(loop, anyLoopbackPort(), () -> (c, data) -> c.write(data));
        long loopThreadId = TestSupport.onLoop(loop, () -> Thread.currentThread().getId());
        com.sun.management.ThreadMXBean threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        byte[] message = new byte[64];
        Arrays.fill(message, (byte) 'x');
        try (SocketChannel client = connect(server.localAddress())) {
            pingPong(client, message, 30_000);
            long before = threads.getThreadAllocatedBytes(loopThreadId);
            int measured = 20_000;
            pingPong(client, message, measured);
            long after = threads.getThreadAllocatedBytes(loopThreadId);
            assertTrue(before >= 0 && after >= 0, "allocation measurement supported");
            double perMessage = (after - before) / (double) measured;
            assertTrue(perMessage < 32, "loop thread allocated " + perMessage + " bytes per echoed message");
        }
    }

    /**
     * What peers can make the table hold (issue 14): every read length from 1 byte to the
     * whole 64 KiB buffer, as 10,000 peers each sending its own odd size would produce,
     * leaves at most 1,024 views in the table (about 64 KiB of view objects per loop), each
     * exactly as long as a read, and a length seen again is served from the table.
     */
    @Test
    void theTableStaysBoundedWhateverLengthsPeersSend() throws Exception {
        ReadViews views = new ReadViews(ByteBuffer.allocateDirect(EventLoop.READ_BUFFER_SIZE));
        for (int length = 1; length <= EventLoop.READ_BUFFER_SIZE; length++) {
            assertEquals(length, views.of(length).capacity());
        }
        java.lang.reflect.Field table = ReadViews.class.getDeclaredField("bySize");
        table.setAccessible(true);
        ByteBuffer[] held = (ByteBuffer[]) table.get(views);
        assertTrue(held.length <= 1024, "table size " + held.length);
        long kept = Arrays.stream(held).filter(v -> v != null).count();
        assertTrue(kept <= 1024, kept + " views kept");
        ByteBuffer again = views.of(EventLoop.READ_BUFFER_SIZE);
        assertTrue(again == views.of(EventLoop.READ_BUFFER_SIZE), "a repeated length is reused, not sliced again");
    }

    private static void pingPong(SocketChannel client, byte[] message, int times) throws Exception {
        for (int i = 0; i < times; i++) {
            writeFully(client, ByteBuffer.wrap(message));
            assertArrayEquals(message, readFully(client, message.length));
        }
    }
}
