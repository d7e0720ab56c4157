package io.selectloop;

import static io.selectloop.ProxyHeaderParserTest.ascii;
import static io.selectloop.ProxyHeaderParserTest.concat;
import static io.selectloop.ProxyHeaderParserTest.inet4Body;
import static io.selectloop.ProxyHeaderParserTest.tlv;
import static io.selectloop.ProxyHeaderParserTest.v2;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.selectloop.TestSupport.FakeConnection;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The pre-open stage fed a header and the data after it in every way reads can cut them:
 * the application opens once, before any data, and receives exactly the bytes after the
 * header, all of the completing read's rest in one call during that read; what was held is
 * given back to the memory budget.
 */
class ProxyHeaderStageTest {
    private EventLoop loop;

    @BeforeEach
    void open() {
        loop = EventLoop.open(); // this thread is the loop thread; the header timer never fires here
    }

    @AfterEach
    void close() {
        loop.close();
    }

    /** Feeds {@code stream} in reads ending at {@code cuts} and checks everything the class comment promises. */
    private void feed(byte[] stream, int headerLength, int[] cuts) throws Exception {
        List<String> events = new ArrayList<>();
        ByteArrayOutputStream data = new ByteArrayOutputStream();
        Handler application = new Handler() {
            @Override
            public void onOpen(Connection c) {
                events.add("open");
            }

            @Override
            public void onData(Connection c, ByteBuffer d) {
                byte[] b = new byte[d.remaining()];
                d.get(b);
                events.add("data " + b.length);
                data.writeBytes(b);
            }
        };
        Handler stage = ProxyHeaderStage.wrap(application,
                StreamOptions.builder().proxyProtocol(ProxyProtocol.REQUIRED).build());
        FakeConnection c = new FakeConnection(loop).handler(stage);
        stage.onOpen(c);
        ByteBuffer readBuffer = ByteBuffer.allocateDirect(stream.length + 16);
        int at = 0;
        String what = "cuts " + Arrays.toString(cuts);
        for (int end : cuts) {
            int eventsBefore = events.size();
            readBuffer.clear().put(new byte[] {9, 9, 9}).put(stream, at, end - at).put(new byte[] {7, 7});
            stage.onData(c, readBuffer.slice(3, end - at)); // a view, as the loop passes it
            if (at < headerLength && end >= headerLength) {
                List<String> now = events.subList(eventsBefore, events.size());
                List<String> expected = end > headerLength ? List.of("open", "data " + (end - headerLength)) : List.of("open");
                assertEquals(expected, now, what + ": the read that completes the header");
            }
            at = end;
            if (at >= headerLength) {
                assertEquals(0, loop.memoryBudget().used(), what + ": nothing held once open");
            }
        }
        assertEquals("open", events.get(0), what);
        assertEquals(1, events.stream().filter("open"::equals).count(), what);
        assertArrayEquals(Arrays.copyOfRange(stream, headerLength, stream.length), data.toByteArray(), what);
        stage.onClose(c, null);
        assertEquals(0, loop.memoryBudget().used());
    }

    private static byte[] payload(int n) {
        byte[] p = new byte[n];
        new Random(n).nextBytes(p);
        return p;
    }

    private static List<byte[]> headers() throws Exception {
        return List.of(ascii("PROXY TCP4 192.0.2.1 192.0.2.2 1000 2000\r\n"),
                v2(0x21, 0x11, concat(inet4Body("10.0.0.1", "10.0.0.2", 1, 2), tlv(ProxyHeader.TLV_ALPN, ascii("h2")))),
                v2(0x21, 0x11, concat(inet4Body("10.0.0.1", "10.0.0.2", 1, 2), tlv(0xE0, new byte[4000 - 12 - 3]))));
    }

    @Test
    void everyTwoReadSplitDeliversTheRestWhole() throws Exception {
        for (byte[] header : headers().subList(0, 2)) {
            byte[] stream = concat(header, payload(100));
            for (int k = 1; k < stream.length; k++) {
                feed(stream, header.length, new int[] {k, stream.length});
            }
        }
    }

    @Test
    void aHeaderTrickledByteByByteAndRandomCutsWork() throws Exception {
        Random random = new Random(5);
        for (byte[] header : headers()) {
            byte[] stream = concat(header, payload(300));
            int[] bytewise = new int[stream.length];
            for (int i = 0; i < bytewise.length; i++) {
                bytewise[i] = i + 1;
            }
            feed(stream, header.length, bytewise);
            for (int round = 0; round < 50; round++) {
                List<Integer> cuts = new ArrayList<>();
                for (int at = 0; at < stream.length; ) {
                    at = Math.min(stream.length, at + 1 + random.nextInt(random.nextBoolean() ? 8 : 600));
                    cuts.add(at);
                }
                feed(stream, header.length, cuts.stream().mapToInt(Integer::intValue).toArray());
            }
        }
    }

    @Test
    void whatIsHeldGrowsWithWhatArrivesNotWithWhatTheHeaderAnnounces() throws Exception {
        Handler stage = ProxyHeaderStage.wrap((c, d) -> { },
                StreamOptions.builder().proxyProtocol(ProxyProtocol.REQUIRED).build());
        FakeConnection c = new FakeConnection(loop).handler(stage);
        stage.onOpen(c);
        byte[] start = Arrays.copyOf(v2(0x21, 0x11, new byte[4000]), 40); // announces 4,016 bytes
        for (int i = 0; i < start.length; i++) {
            stage.onData(c, ByteBuffer.wrap(start, i, 1).slice());
            long held = loop.memoryBudget().used();
            assertTrue(held >= i + 1 && held <= 2L * (i + 1), held + " bytes held after " + (i + 1));
        }
        stage.onClose(c, null);
        assertEquals(0, loop.memoryBudget().used());
    }
}
