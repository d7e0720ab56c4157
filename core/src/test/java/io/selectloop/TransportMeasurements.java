package io.selectloop;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Quick, rough throughput numbers for the transports; a main, not a test (no
 * thresholds). Everything runs on loopback.
 *
 * <pre>
 * udp [size] [senders] [window] [seconds]      UDP echo round trips per second (server and
 *                                              senders on two loops of this JVM)
 * tcp [loops] [connections] [size] [inFlight] [seconds]
 *                                              TCP echo through a server on a group of
 *                                              [loops] loops in a child JVM; this JVM's one
 *                                              client loop keeps [inFlight] messages of
 *                                              [size] bytes in flight per connection
 * </pre>
 */
public final class TransportMeasurements {
    private TransportMeasurements() {
    }

    public static void main(String[] args) throws Exception {
        String mode = args.length > 0 ? args[0] : "udp";
        if (mode.equals("udp")) {
            udp(intArg(args, 1, 64), intArg(args, 2, 10), intArg(args, 3, 32), intArg(args, 4, 5));
        } else if (mode.equals("tcp")) {
            tcp(intArg(args, 1, 1), intArg(args, 2, 100), intArg(args, 3, 64), intArg(args, 4, 16), intArg(args, 5, 5));
        } else {
            throw new IllegalArgumentException("udp or tcp, not " + mode);
        }
        System.exit(0);
    }

    private static int intArg(String[] args, int index, int otherwise) {
        return args.length > index ? Integer.parseInt(args[index]) : otherwise;
    }

    private static InetSocketAddress loopback() throws Exception {
        return new InetSocketAddress(InetAddress.getByName("127.0.0.1"), 0);
    }

    /** Counts replies on the client loop; a volatile single-writer counter is cheap enough there. */
    private static final class Counter {
        volatile long value;
    }

    private static void udp(int size, int senders, int window, int seconds) throws Exception {
        EventLoop serverLoop = EventLoop.start("udp-echo");
        EventLoop clientLoop = EventLoop.start("udp-senders");
        DatagramOptions options = DatagramOptions.builder().receiveBufferSize(4 << 20).sendBufferSize(4 << 20).build();
        DatagramEndpoint server = DatagramEndpoint.bind(serverLoop, loopback(), options,
                (endpoint, sender, data) -> endpoint.send(data, sender));
        Counter replies = new Counter();
        Counter sent = new Counter();
        byte[] payload = new byte[size];
        List<DatagramEndpoint> clients = new ArrayList<>();
        for (int i = 0; i < senders; i++) {
            DatagramEndpoint client = DatagramEndpoint.bind(clientLoop, loopback(), options, new DatagramHandler() {
                @Override
                public void onOpen(DatagramEndpoint e) {
                    e.connect(server.localAddress());
                    for (int k = 0; k < window; k++) {
                        e.send(ByteBuffer.wrap(payload));
                        sent.value++;
                    }
                }

                @Override
                public void onDatagram(DatagramEndpoint e, SocketAddress from, ByteBuffer data) {
                    replies.value++;
                    e.send(data);
                    sent.value++;
                }
            });
            clients.add(client);
        }
        double perSecond = measure(replies, seconds);
        System.out.printf("udp echo: %d-byte datagrams, %d senders x %d in flight: %.0f round trips/s "
                        + "(sent %d, answered %d, lost or still in flight %d)%n",
                size, senders, window, perSecond, sent.value, replies.value, sent.value - replies.value);
        clientLoop.close();
        serverLoop.close();
    }

    private static void tcp(int loops, int connections, int size, int inFlight, int seconds) throws Exception {
        try (TestSupport.Child child = TestSupport.ChildEchoServer.start(loops)) {
            EventLoop clientLoop = EventLoop.start("tcp-clients");
            Counter echoedBytes = new Counter();
            byte[] primer = new byte[size * inFlight];
            List<Connection> open = new ArrayList<>();
            for (int i = 0; i < connections; i++) {
                open.add(StreamClient.connect(clientLoop, child.address, new Handler() {
                    @Override
                    public void onOpen(Connection c) {
                        c.write(primer);
                    }

                    @Override
                    public void onData(Connection c, ByteBuffer data) {
                        echoedBytes.value += data.remaining();
                        c.write(data); // keeps size * inFlight bytes in flight
                    }
                }, Duration.ofSeconds(30)).get());
            }
            double bytesPerSecond = measure(echoedBytes, seconds);
            System.out.printf("tcp echo: server on %d loop(s), %d connections, %d-byte messages x %d in flight: "
                            + "%.0f messages/s, %.1f MB/s%n",
                    loops, connections, size, inFlight, bytesPerSecond / size, bytesPerSecond / 1e6);
            for (Connection c : open) {
                c.close();
            }
            clientLoop.shutdownGracefully(Duration.ofSeconds(5)).get();
        }
    }

    /** Two seconds of warm-up, then the counter's rate over {@code seconds}. */
    private static double measure(Counter counter, int seconds) throws InterruptedException {
        Thread.sleep(2000); // warm-up time for a measurement, not waiting for an event
        long startCount = counter.value;
        long start = System.nanoTime();
        Thread.sleep(TimeUnit.SECONDS.toMillis(seconds));
        long count = counter.value - startCount;
        return count / ((System.nanoTime() - start) / 1e9);
    }
}
