package io.selectloop;

import static io.selectloop.TestSupport.anyLoopbackPort;
import static io.selectloop.TestSupport.awaitSocketsAtMost;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;

/**
 * 10,000 peers (a python3 process) each send half a PROXY v2 header, one announcing
 * nearly the largest accepted length, and stall. The server holds what they sent (at most
 * twice that, the buffer's growth), charged to the memory budget, not what they announced;
 * the header timeout cuts every one of them with a {@link ProxyProtocolException};
 * afterwards nothing is held and no socket is left.
 */
class ProxyHeaderHostileTest {
    private static final int PEERS = 10_000;
    /** The fixed part, announcing a 4,000-byte body, then 2,000 bytes of it. */
    private static final int SENT = 16 + 2000;

    private static final String PEERS_SCRIPT = String.join("\n",
            "import socket, struct, sys",
            "port, n = int(sys.argv[1]), int(sys.argv[2])",
            "half = b'\\r\\n\\r\\n\\x00\\r\\nQUIT\\n' + bytes([0x21, 0x11]) + struct.pack('!H', 4000) + b'\\x00' * 2000",
            "peers = []",
            "for i in range(n):",
            "    s = socket.create_connection(('127.0.0.1', port))",
            "    s.sendall(half)",
            "    peers.append(s)",
            "print('stalling', len(peers), flush=True)",
            "sys.stdin.read()");

    @Test
    void tenThousandPeersStallingInsideTheHeaderHoldOnlyWhatTheySentAndAreCutByTheTimeout() throws Exception {
        int baseline = TestSupport.openSockets();
        EventLoop loop = EventLoop.start("proxy-hostile");
        Process peers = null;
        try {
            Map<String, AtomicInteger> causes = new ConcurrentHashMap<>();
            AtomicInteger applicationOpens = new AtomicInteger();
            AtomicLong peak = new AtomicLong();
            StreamOptions options = StreamOptions.builder().backlog(4096).proxyProtocol(ProxyProtocol.REQUIRED)
                    .proxyHeaderTimeout(Duration.ofSeconds(20)).build();
            StreamServer server = StreamServer.bind(loop, anyLoopbackPort(), options, () -> new Handler() {
                @Override
                public void onOpen(Connection c) {
                    applicationOpens.incrementAndGet();
                }

                @Override
                public void onData(Connection c, ByteBuffer data) {
                }

                @Override
                public void onClose(Connection c, Throwable cause) {
                    causes.computeIfAbsent(String.valueOf(cause), k -> new AtomicInteger()).incrementAndGet();
                }
            });
            loop.scheduleAtFixedRate(() -> peak.accumulateAndGet(loop.memoryBudget().used(), Math::max), 5, 5,
                    TimeUnit.MILLISECONDS);
            peers = new ProcessBuilder("python3", "-c", PEERS_SCRIPT, String.valueOf(server.port()), String.valueOf(PEERS))
                    .redirectError(ProcessBuilder.Redirect.INHERIT).start();
            BufferedReader out = new BufferedReader(new InputStreamReader(peers.getInputStream(), StandardCharsets.UTF_8));
            assertEquals("stalling " + PEERS, out.readLine());

            // Every peer's bytes held, and charged: what they sent, not what they announced.
            Awaitility.await().atMost(Duration.ofSeconds(20)).pollInterval(Duration.ofMillis(20))
                    .until(() -> loop.memoryBudget().used() >= (long) PEERS * SENT);
            assertEquals(PEERS, server.connectionCount());
            long held = loop.memoryBudget().used();
            assertTrue(held <= 2L * PEERS * SENT, held + " bytes held for " + PEERS + " x " + SENT + " sent");

            Awaitility.await().atMost(Duration.ofSeconds(90)).pollInterval(Duration.ofMillis(50))
                    .until(() -> server.connectionCount() == 0);
            String timeout = new ProxyProtocolException("PROXY protocol header not complete within 20000 ms ("
                    + SENT + " bytes received)").toString();
            assertEquals(Map.of(timeout, PEERS), Map.copyOf(causes.entrySet().stream()
                    .collect(java.util.stream.Collectors.toMap(Map.Entry::getKey, e -> e.getValue().get()))));
            assertEquals(0, applicationOpens.get());
            assertEquals(0, loop.memoryBudget().used());
            assertTrue(peak.get() <= 2L * PEERS * SENT, "peak " + peak.get());
        } finally {
            if (peers != null) {
                peers.destroyForcibly();
                peers.waitFor(60, TimeUnit.SECONDS);
            }
            loop.close();
        }
        awaitSocketsAtMost(baseline);
    }
}
