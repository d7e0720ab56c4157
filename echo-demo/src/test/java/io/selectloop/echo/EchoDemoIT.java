package io.selectloop.echo;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.StandardProtocolFamily;
import java.net.URI;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The echo-demo jar as a user runs it: a separate process, driven over real sockets. */
class EchoDemoIT {

    private static String echoLine(Socket socket, String line) throws IOException {
        OutputStream out = socket.getOutputStream();
        out.write((line + "\n").getBytes(StandardCharsets.UTF_8));
        out.flush();
        return new BufferedReader(new InputStreamReader(socket.getInputStream(), StandardCharsets.UTF_8)).readLine();
    }

    @Test
    void servesAPlainSocketOnAFreePortAndExitsCleanlyOnSigterm() throws Exception {
        try (DemoProcess demo = DemoProcess.start("--port", "0")) {
            URI uri = demo.awaitListening();
            assertEquals("tcp", uri.getScheme());
            assertEquals("127.0.0.1", uri.getHost());
            assertTrue(uri.getPort() > 0, "a real port was picked: " + uri);
            try (Socket socket = new Socket(uri.getHost(), uri.getPort())) {
                assertEquals("hello, selectloop", echoLine(socket, "hello, selectloop"));
                byte[] big = new byte[256 * 1024];
                for (int i = 0; i < big.length; i++) {
                    big[i] = (byte) (i * 31 + 7);
                }
                socket.getOutputStream().write(big);
                byte[] back = socket.getInputStream().readNBytes(big.length);
                assertTrue(java.util.Arrays.equals(big, back), "256 KiB echoed byte for byte");
            }
            assertEquals(0, demo.terminate(), "exit status after SIGTERM; stderr: " + demo.stderr);
            demo.awaitOutputDrained();
            assertEquals(1, demo.countStderr("served 1 connections"), "stderr: " + demo.stderr);
        }
    }

    @Test
    void listensOnAUnixSocketBesideTcpAndRemovesItOnExit(@TempDir Path dir) throws Exception {
        Path socketFile = dir.resolve("echo.sock");
        try (DemoProcess demo = DemoProcess.start("--port", "0", "--unix", socketFile.toString())) {
            URI tcp = demo.awaitListening();
            URI unix = demo.awaitListening();
            assertEquals("tcp", tcp.getScheme());
            assertEquals("unix", unix.getScheme());
            assertEquals(socketFile.toAbsolutePath().toString(), unix.getPath());
            try (SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX)) {
                ch.connect(UnixDomainSocketAddress.of(socketFile));
                ByteBuffer request = ByteBuffer.wrap("over a unix socket\n".getBytes(StandardCharsets.UTF_8));
                while (request.hasRemaining()) {
                    ch.write(request);
                }
                ByteBuffer reply = ByteBuffer.allocate(request.capacity());
                while (reply.hasRemaining() && ch.read(reply) >= 0) {
                    // read until the whole echo is back
                }
                assertEquals("over a unix socket\n", new String(reply.array(), StandardCharsets.UTF_8));
            }
            assertEquals(0, demo.terminate());
            assertFalse(Files.exists(socketFile), "the socket file is removed on shutdown");
        }
    }

    @Test
    void theClientSendsStdinLinesAndPrintsEachReply() throws Exception {
        try (DemoProcess server = DemoProcess.start("--port", "0")) {
            URI uri = server.awaitListening();
            Process client = new ProcessBuilder(DemoProcess.java(), "-jar", DemoProcess.jar().toString(),
                    "client", "--port", String.valueOf(uri.getPort())).start();
            try (OutputStream stdin = client.getOutputStream()) {
                stdin.write("first line\nsecond line\n\nünïcødé\n".getBytes(StandardCharsets.UTF_8));
            }
            List<String> printed = new ArrayList<>();
            try (BufferedReader out = new BufferedReader(new InputStreamReader(client.getInputStream(), StandardCharsets.UTF_8))) {
                String line;
                while ((line = out.readLine()) != null) {
                    printed.add(line);
                }
            }
            assertTrue(client.waitFor(60, TimeUnit.SECONDS), "the client exits at end of input");
            assertEquals(0, client.exitValue());
            assertEquals(List.of("first line", "second line", "", "ünïcødé"), printed);
            assertEquals(0, server.terminate());
        }
    }

    /**
     * Run out of file descriptors: the server pauses accepting (one warning, not a line
     * per retry and not a busy loop), keeps serving the connections it has, and accepts
     * the waiting ones once descriptors are free again.
     */
    @Test
    void runningOutOfFileDescriptorsPausesAcceptingOnceAndRecovers() throws Exception {
        try (DemoProcess demo = DemoProcess.startWithFileLimit(64, "--port", "0")) {
            URI uri = demo.awaitListening();
            InetSocketAddress address = new InetSocketAddress(uri.getHost(), uri.getPort());
            List<Socket> clients = new ArrayList<>();
            try {
                for (int i = 0; i < 100; i++) {
                    clients.add(new Socket(address.getAddress(), address.getPort())); // the backlog takes them all
                }
                await().atMost(Duration.ofSeconds(60)).until(() -> demo.countStderr("pausing accepts") == 1);
                assertEquals("still served", echoLine(clients.get(0), "still served"));

                for (int i = 0; i < 60; i++) {
                    clients.get(i).close();
                }
                for (Socket waiting : clients.subList(60, 100)) {
                    assertEquals("accepted at last", echoLine(waiting, "accepted at last"));
                }
                assertEquals(1, demo.countStderr("pausing accepts"), "one warning for the whole episode: " + demo.stderr);
            } finally {
                for (Socket s : clients) {
                    s.close();
                }
            }
            assertEquals(0, demo.terminate(), "stderr: " + demo.stderr);
        }
    }

    @Test
    void lineFramingEchoesEachLineHoweverItIsSplit() throws Exception {
        try (DemoProcess demo = DemoProcess.start("--port", "0", "--framing", "line")) {
            URI uri = demo.awaitListening();
            try (Socket socket = new Socket(uri.getHost(), uri.getPort())) {
                socket.setTcpNoDelay(true);
                OutputStream out = socket.getOutputStream();
                for (String piece : new String[] {"on", "e\ntw", "o\r", "\nthree\n"}) {
                    out.write(piece.getBytes(StandardCharsets.US_ASCII));
                    out.flush();
                }
                byte[] expected = "one\ntwo\nthree\n".getBytes(StandardCharsets.US_ASCII);
                assertEquals(new String(expected, StandardCharsets.US_ASCII),
                        new String(socket.getInputStream().readNBytes(expected.length), StandardCharsets.US_ASCII));
            }
            assertEquals(0, demo.terminate());
            demo.awaitOutputDrained();
            assertEquals(1, demo.countStderr("echoed 3 line frames"), "stderr: " + demo.stderr);
        }
    }

    /** A frame over --max-frame closes that one connection; another, mid-conversation, carries on. */
    @Test
    void lengthFramingClosesOnlyThePeerThatSendsAnOverLongFrame() throws Exception {
        try (DemoProcess demo = DemoProcess.start("--port", "0", "--framing", "length", "--max-frame", "100")) {
            URI uri = demo.awaitListening();
            try (Socket good = new Socket(uri.getHost(), uri.getPort());
                 Socket bad = new Socket(uri.getHost(), uri.getPort())) {
                DataOutputStream goodOut = new DataOutputStream(good.getOutputStream());
                DataInputStream goodIn = new DataInputStream(good.getInputStream());
                byte[] payload = new byte[100];
                for (int round = 0; round < 3; round++) {
                    java.util.Arrays.fill(payload, (byte) round);
                    goodOut.writeInt(payload.length);
                    goodOut.write(payload);
                    goodOut.flush();
                    assertEquals(payload.length, goodIn.readInt());
                    byte[] echoed = goodIn.readNBytes(payload.length);
                    assertTrue(java.util.Arrays.equals(payload, echoed), "round " + round);
                    if (round == 1) {
                        DataOutputStream badOut = new DataOutputStream(bad.getOutputStream());
                        badOut.writeInt(101); // the header alone is enough to refuse it
                        badOut.flush();
                        assertEquals(-1, bad.getInputStream().read(), "the over-long peer is disconnected");
                    }
                }
            }
            assertEquals(0, demo.terminate());
            demo.awaitOutputDrained();
            assertEquals(1, demo.countStderr("over the maximum of 100"), "one line for the bad peer: " + demo.stderr);
        }
    }

    @Test
    void idleTimeoutDisconnectsASilentClient() throws Exception {
        try (DemoProcess demo = DemoProcess.start("--port", "0", "--idle-timeout", "0.3")) {
            URI uri = demo.awaitListening();
            try (Socket silent = new Socket(uri.getHost(), uri.getPort())) {
                assertEquals(-1, silent.getInputStream().read(), "closed by the server once idle");
            }
            assertEquals(0, demo.terminate());
        }
    }

    @Test
    void overLimitRejectAnswersBusyAndClosesAtOnce() throws Exception {
        try (DemoProcess demo = DemoProcess.start("--port", "0", "--max-connections", "1", "--over-limit", "reject")) {
            URI uri = demo.awaitListening();
            try (Socket first = new Socket(uri.getHost(), uri.getPort())) {
                assertEquals("first", echoLine(first, "first"));
                try (Socket second = new Socket(uri.getHost(), uri.getPort())) {
                    assertEquals("busy\n", new String(second.getInputStream().readAllBytes(), StandardCharsets.US_ASCII));
                }
                assertEquals("still first", echoLine(first, "still first"));
            }
            assertEquals(0, demo.terminate());
        }
    }

    @Test
    void maxConnectionsMakesTheNextPeerWaitUntilOneLeaves() throws Exception {
        try (DemoProcess demo = DemoProcess.start("--port", "0", "--max-connections", "1")) {
            URI uri = demo.awaitListening();
            try (Socket first = new Socket(uri.getHost(), uri.getPort());
                 Socket second = new Socket(uri.getHost(), uri.getPort())) {
                assertEquals("first", echoLine(first, "first"));
                second.getOutputStream().write("second\n".getBytes(StandardCharsets.US_ASCII));
                await().atMost(Duration.ofSeconds(60)).until(() -> demo.countStderr("maxConnections limit") == 1);
                first.close();
                assertEquals("second", new BufferedReader(new InputStreamReader(second.getInputStream(),
                        StandardCharsets.US_ASCII)).readLine(), "admitted once the first left");
            }
            assertEquals(0, demo.terminate());
        }
    }

    @Test
    void theClientSpeaksLengthFraming() throws Exception {
        try (DemoProcess server = DemoProcess.start("--port", "0", "--framing", "length")) {
            URI uri = server.awaitListening();
            Process client = new ProcessBuilder(DemoProcess.java(), "-jar", DemoProcess.jar().toString(),
                    "client", "--port", String.valueOf(uri.getPort()), "--framing", "length").start();
            try (OutputStream stdin = client.getOutputStream()) {
                stdin.write("framed\n\nagain\n".getBytes(StandardCharsets.UTF_8));
            }
            String printed = new String(client.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertTrue(client.waitFor(60, TimeUnit.SECONDS));
            assertEquals(0, client.exitValue());
            assertEquals(List.of("framed", "", "again"), printed.lines().toList());
            assertEquals(0, server.terminate());
            server.awaitOutputDrained();
            assertEquals(1, server.countStderr("echoed 3 length frames"), "stderr: " + server.stderr);
        }
    }

    /** UDP echo beside TCP on a group of two loops, and the client's --udp mode. */
    @Test
    void echoesUdpDatagramsBesideTcpOnTwoLoops() throws Exception {
        try (DemoProcess demo = DemoProcess.start("--port", "0", "--udp-port", "0", "--loops", "2")) {
            URI tcp = demo.awaitListening();
            URI udp = demo.awaitListening();
            assertEquals("tcp", tcp.getScheme());
            assertEquals("udp", udp.getScheme());
            assertEquals("127.0.0.1", udp.getHost());

            for (int i = 0; i < 4; i++) { // spread over both loops
                try (Socket socket = new Socket(tcp.getHost(), tcp.getPort())) {
                    assertEquals("tcp " + i, echoLine(socket, "tcp " + i));
                }
            }
            try (DatagramSocket socket = new DatagramSocket(0, InetAddress.getLoopbackAddress())) {
                socket.connect(new InetSocketAddress(udp.getHost(), udp.getPort()));
                socket.setSoTimeout(2000);
                byte[] payload = new byte[1400];
                for (int i = 0; i < payload.length; i++) {
                    payload[i] = (byte) (i * 7);
                }
                byte[] reply = null;
                for (int attempt = 0; attempt < 5 && reply == null; attempt++) { // UDP: a datagram may be lost
                    socket.send(new DatagramPacket(payload, payload.length));
                    DatagramPacket packet = new DatagramPacket(new byte[2048], 2048);
                    try {
                        socket.receive(packet);
                        reply = java.util.Arrays.copyOf(packet.getData(), packet.getLength());
                    } catch (java.net.SocketTimeoutException lost) {
                        // send it again
                    }
                }
                assertTrue(java.util.Arrays.equals(payload, reply), "the datagram comes back whole");
            }

            Process client = new ProcessBuilder(DemoProcess.java(), "-jar", DemoProcess.jar().toString(),
                    "client", "--udp", "--port", String.valueOf(udp.getPort())).start();
            try (OutputStream stdin = client.getOutputStream()) {
                stdin.write("over udp\nand again\n".getBytes(StandardCharsets.UTF_8));
            }
            String printed = new String(client.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertTrue(client.waitFor(60, TimeUnit.SECONDS));
            assertEquals(0, client.exitValue());
            assertEquals(List.of("over udp", "and again"), printed.lines().toList());

            assertEquals(0, demo.terminate());
            demo.awaitOutputDrained();
            assertEquals(1, demo.countStderr("served 4 connections"), "stderr: " + demo.stderr);
            assertTrue(demo.stderr.stream().anyMatch(l -> l.matches(".*echoed [3-9]\\d* UDP datagrams.*")), "stderr: " + demo.stderr);
        }
    }

    @Test
    void theClientReportsAServerThatIsNotThereInOneLine() throws Exception {
        int freePort;
        try (java.net.ServerSocket probe = new java.net.ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            freePort = probe.getLocalPort();
        }
        Process client = new ProcessBuilder(DemoProcess.java(), "-jar", DemoProcess.jar().toString(),
                "client", "--port", String.valueOf(freePort)).start();
        client.getOutputStream().close();
        String err = new String(client.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(client.waitFor(60, TimeUnit.SECONDS));
        assertEquals(1, client.exitValue());
        assertEquals(1, err.lines().count(), err);
        assertTrue(err.contains("cannot connect to tcp://127.0.0.1:" + freePort), err);
    }

    @Test
    void helpListsTheOptionsAndExitsZero() throws Exception {
        Process help = new ProcessBuilder(DemoProcess.java(), "-jar", DemoProcess.jar().toString(), "--help")
                .redirectErrorStream(true).start();
        String text = new String(help.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(help.waitFor(60, TimeUnit.SECONDS));
        assertEquals(0, help.exitValue());
        assertTrue(text.contains("server") && text.contains("client"), text);
    }

    /**
     * A loop that dies must take the process with it, so that a supervisor restarts it:
     * the old demo lingered with a dead loop, accepting nothing and ignoring SIGTERM. A
     * heap far smaller than the budget lets a partial-frame flood run the loop out of
     * memory for real.
     */
    @Test
    void theDemoExitsWithStatus70WhenAnEventLoopDies() throws Exception {
        try (DemoProcess demo = DemoProcess.start(List.of("-Xmx48m"),
                "--port", "0", "--framing", "line", "--memory-budget", "4g")) {
            URI uri = demo.awaitListening();
            List<SocketChannel> peers = new ArrayList<>();
            ByteBuffer unfinishedLine = ByteBuffer.allocate(64 * 1024);
            java.util.Arrays.fill(unfinishedLine.array(), (byte) 'x');
            try {
                for (int i = 0; i < 200 && demo.process().isAlive(); i++) {
                    SocketChannel peer = SocketChannel.open(new InetSocketAddress(uri.getHost(), uri.getPort()));
                    peer.configureBlocking(false);
                    peers.add(peer);
                }
                // Up to 1 MiB each (the default --max-frame), far more than 48 MiB in all.
                for (int round = 0; round < 16 && demo.process().isAlive(); round++) {
                    for (SocketChannel peer : peers) {
                        try {
                            peer.write(unfinishedLine.clear());
                        } catch (IOException closedByTheDyingServer) {
                            // expected once the loop is gone
                        }
                    }
                }
                assertTrue(demo.process().waitFor(60, TimeUnit.SECONDS), "the demo did not exit; stderr: " + demo.stderr);
                assertEquals(EchoServerCommand.LOOP_FAILED, demo.process().exitValue(), "stderr: " + demo.stderr);
                demo.awaitOutputDrained();
                assertTrue(demo.countStderr("an event loop failed") == 1, "stderr: " + demo.stderr);
            } finally {
                for (SocketChannel peer : peers) {
                    peer.close();
                }
            }
        }
    }

    @Test
    void theMemoryBudgetIsPrintedAndTakesSizeSuffixes() throws Exception {
        try (DemoProcess demo = DemoProcess.start("--port", "0", "--memory-budget", "64m")) {
            demo.awaitListening();
            await().atMost(Duration.ofSeconds(60)).until(() -> demo.stdout.contains("memory budget 67108864 bytes"));
            assertEquals(0, demo.terminate());
        }
        assertEquals(64L << 20, EchoServerCommand.parseBytes("64m"));
        assertEquals(1L << 30, EchoServerCommand.parseBytes("1G"));
        assertEquals(4096, EchoServerCommand.parseBytes("4096"));
        assertEquals(0, EchoServerCommand.parseBytes("default"));
    }
}
