package io.selectloop;

import static io.selectloop.TestSupport.anyLoopbackPort;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Arrays;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLException;
import javax.net.ssl.SSLHandshakeException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Every bad-input case of issue 10 on a TLS server: the offending connection closes
 * with the {@link SSLException} as onClose's cause, and a control connection opened
 * before it keeps being served, on the same loop.
 */
class TlsBadInputTest {
    private static final Object ORDERLY = "orderly close";
    private final TestCerts certs = TestCerts.get();
    private final BlockingQueue<Object> closes = new LinkedBlockingQueue<>();
    private EventLoop loop;
    private StreamServer server;
    private EngineClient control;

    @BeforeEach
    void start() throws Exception {
        loop = EventLoop.start("tls-bad-input");
        TlsOptions tls = TlsOptions.server(certs.serverContextTrustingClients())
                .clientAuth(TlsOptions.ClientAuth.OPTIONAL)
                .build();
        server = bindRecording(tls);
        control = new EngineClient(server.localAddress(), certs.clientContext(), null).handshake();
        assertControlServed("before");
    }

    /** A server on the test's loop that echoes and records how each connection closed. */
    private StreamServer bindRecording(TlsOptions tls) throws java.io.IOException {
        return StreamServer.bind(loop, anyLoopbackPort(), StreamOptions.builder().tls(tls).build(), () -> new Handler() {
            @Override
            public void onData(Connection c, ByteBuffer data) {
                c.write(data);
            }

            @Override
            public void onClose(Connection c, Throwable cause) {
                closes.add(cause == null ? ORDERLY : cause);
            }
        });
    }

    /** The same loop, with a handshake timeout short enough to wait for. */
    private StreamServer impatientServer() throws java.io.IOException {
        return bindRecording(TlsOptions.server(certs.serverContext()).handshakeTimeout(Duration.ofMillis(200)).build());
    }

    @AfterEach
    void stop() throws Exception {
        assertControlServed("after");
        control.close();
        loop.close();
    }

    private void assertControlServed(String text) throws Exception {
        byte[] line = text.getBytes(StandardCharsets.US_ASCII);
        control.send(line);
        assertArrayEquals(line, control.read(line.length));
        assertTrue(closes.isEmpty() || closes.stream().noneMatch(o -> o == ORDERLY), "the control connection is open");
    }

    private Throwable nextCloseCause() throws InterruptedException {
        Object cause = closes.poll(30, TimeUnit.SECONDS);
        assertNotNull(cause, "the bad connection was closed");
        assertInstanceOf(Throwable.class, cause, "closed with a cause");
        return (Throwable) cause;
    }

    @Test
    void plaintextToTheTlsPort() throws Exception {
        try (SocketChannel plain = TestSupport.connect(server.localAddress())) {
            TestSupport.writeFully(plain, ByteBuffer.wrap("GET / HTTP/1.1\r\nHost: x\r\n\r\n".getBytes(StandardCharsets.US_ASCII)));
            Throwable cause = nextCloseCause();
            assertInstanceOf(SSLException.class, cause);
            TestSupport.readToEnd(plain); // and the peer sees the end
        }
        // Operators see it too: counted as a TLS failure, not as the peer's ordinary end.
        org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(30))
                .until(() -> server.metrics().closed(CloseCause.TLS) == 1);
        assertEquals(0, server.metrics().closed(CloseCause.PEER), server.metrics().toString());
    }

    @Test
    void aTruncatedRecord() throws Exception {
        try (EngineClient client = new EngineClient(server.localAddress(), certs.clientContext(), null).handshake()) {
            byte[] record = client.records(new byte[1000], 1000);
            client.sendRaw(Arrays.copyOf(record, record.length / 2), Integer.MAX_VALUE);
            client.channel.shutdownOutput();
            Throwable cause = nextCloseCause();
            assertInstanceOf(SSLException.class, cause);
            assertTrue(cause.getMessage().contains("truncated"), cause.getMessage());
            assertTrue(client.awaitServerClose());
        }
    }

    @Test
    void aClientCertificateNoTrustedCaIssued() throws Exception {
        try (EngineClient client = new EngineClient(server.localAddress(), certs.clientContextShowingTheStranger(), null)) {
            try {
                client.handshake();
                client.send(new byte[] {1}); // TLS 1.3: the server judges the certificate after the client's Finished
                client.read(1);
            } catch (java.io.IOException expected) {
                // refused: the alert, or the end
            }
            Throwable cause = nextCloseCause();
            assertInstanceOf(SSLHandshakeException.class, cause);
        }
    }

    @Test
    void aServerCertificateFromAnUnknownCaSeenByTheClient() throws Exception {
        SSLContext trustsOnlyTheStranger = Pem.clientContext(certs.strangerCert, null, null);
        try (EngineClient client = new EngineClient(server.localAddress(), trustsOnlyTheStranger, null)) {
            SSLException refused = org.junit.jupiter.api.Assertions.assertThrows(SSLException.class, client::handshake);
            assertTrue(refused.getMessage().contains("PKIX"), refused.getMessage());
            // The client's alert (certificate_unknown) reaches the server as the cause.
            assertInstanceOf(SSLException.class, nextCloseCause());
        }
    }

    @Test
    void aHandshakeThatNeverFinishes() throws Exception {
        try (SocketChannel silent = TestSupport.connect(impatientServer().localAddress())) {
            // Half a ClientHello's record header, then nothing.
            TestSupport.writeFully(silent, ByteBuffer.wrap(new byte[] {22, 3}));
            Throwable cause = nextCloseCause();
            assertInstanceOf(SSLHandshakeException.class, cause);
            assertTrue(cause.getMessage().contains("handshakeTimeout"), cause.getMessage());
            TestSupport.readToEnd(silent);
        }
    }

    @Test
    void aPeerThatConnectsAndSaysNothingIsCutByTheHandshakeTimeoutToo() throws Exception {
        try (SocketChannel silent = TestSupport.connect(impatientServer().localAddress())) {
            Throwable cause = nextCloseCause();
            assertTrue(cause.getMessage().contains("handshakeTimeout"), cause.getMessage());
            TestSupport.readToEnd(silent);
        }
    }

    @Test
    void closeNotifyFollowedByGarbage() throws Exception {
        try (EngineClient client = new EngineClient(server.localAddress(), certs.clientContext(), null).handshake()) {
            client.send("hi".getBytes(StandardCharsets.US_ASCII));
            assertArrayEquals("hi".getBytes(StandardCharsets.US_ASCII), client.read(2));
            byte[] closeNotify = client.closeNotify();
            byte[] garbage = "and then some garbage".getBytes(StandardCharsets.US_ASCII);
            byte[] both = Arrays.copyOf(closeNotify, closeNotify.length + garbage.length);
            System.arraycopy(garbage, 0, both, closeNotify.length, garbage.length);
            client.sendRaw(both, Integer.MAX_VALUE); // one write: the server reads both at once
            Throwable cause = nextCloseCause();
            assertInstanceOf(SSLException.class, cause);
            assertTrue(cause.getMessage().contains("after the peer's close_notify"), cause.getMessage());
        }
    }

    @Test
    void aCleanCloseNotifyIsAnOrderlyEnd() throws Exception {
        try (EngineClient client = new EngineClient(server.localAddress(), certs.clientContext(), null).handshake()) {
            client.send("bye".getBytes(StandardCharsets.US_ASCII));
            assertArrayEquals("bye".getBytes(StandardCharsets.US_ASCII), client.read(3));
            client.sendRaw(client.closeNotify(), Integer.MAX_VALUE);
            assertEquals(ORDERLY, closes.poll(30, TimeUnit.SECONDS), "onEof, then an orderly close");
            assertTrue(client.awaitServerClose());
        }
    }

    @Test
    void aHandshakeFloodBeyondTheTaskQueueIsRefusedNotQueued() throws Exception {
        // An executor that refuses everything stands for a full queue.
        TlsOptions refusing = TlsOptions.server(certs.serverContext())
                .delegatedTaskExecutor(task -> {
                    throw new java.util.concurrent.RejectedExecutionException("full");
                }).build();
        StreamServer full = StreamServer.bind(loop, anyLoopbackPort(), StreamOptions.builder().tls(refusing).build(),
                () -> new Handler() {
                    @Override
                    public void onData(Connection c, ByteBuffer data) {
                    }

                    @Override
                    public void onClose(Connection c, Throwable cause) {
                        closes.add(cause == null ? ORDERLY : cause);
                    }
                });
        try (EngineClient client = new EngineClient(full.localAddress(), certs.clientContext(), null)) {
            try {
                client.handshake(); // TLS 1.3: the client may finish before the server's refused task
                client.send(new byte[] {1});
                client.read(1);
            } catch (java.io.IOException expected) {
                // refused: the end
            }
            Throwable cause = nextCloseCause();
            assertTrue(cause.getMessage().contains("executor is full"), cause.getMessage());
        }
        full.close();
    }

    /** Hundreds of peers that start a handshake and stall: all cut by the deadline, nothing held after. */
    @Test
    void manyStalledHandshakesAreAllCutAndHoldNothingAfterwards() throws Exception {
        int peers = 500;
        StreamServer impatient = impatientServer();
        java.util.List<SocketChannel> stalled = new java.util.ArrayList<>();
        try {
            for (int i = 0; i < peers; i++) {
                SocketChannel ch = TestSupport.connect(impatient.localAddress());
                // A record header and a little of a ClientHello: a cut record held per peer.
                TestSupport.writeFully(ch, ByteBuffer.wrap(new byte[] {22, 3, 1, 2, 0, 1, 0, 1, (byte) 252, 3, 3}));
                stalled.add(ch);
            }
            for (int i = 0; i < peers; i++) {
                Throwable cause = nextCloseCause();
                assertTrue(cause.getMessage().contains("handshakeTimeout"), cause.getMessage());
            }
            // The control connection holds nothing between its requests: the budget is back to zero.
            TestSupport.eventually().until(() -> TestSupport.onLoop(loop, () -> loop.memoryBudget().used()) == 0L);
        } finally {
            for (SocketChannel ch : stalled) {
                ch.close();
            }
        }
    }
}
