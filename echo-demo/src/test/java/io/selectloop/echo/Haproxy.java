package io.selectloop.echo;

import static org.awaitility.Awaitility.await;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * A real HAProxy (the Debian package; {@code .ci/run} installs it) in TCP mode in front of
 * echo-demo backends, each sent a PROXY v2 header ({@code send-proxy-v2}). Listens on a
 * loopback port chosen at run time; {@link #close()} stops it whatever state it is in.
 */
final class Haproxy implements AutoCloseable {
    private final Process process;
    private final Path statsSocket;
    private final int port;
    private final Path log;

    private Haproxy(Process process, Path statsSocket, int port, Path log) {
        this.process = process;
        this.statsSocket = statsSocket;
        this.port = port;
        this.log = log;
    }

    /** Starts HAProxy balancing round-robin over {@code backendPorts} (servers s1, s2, ...) and waits until it serves. */
    static Haproxy start(Path dir, List<Integer> backendPorts) throws IOException, InterruptedException {
        return start(dir, backendPorts, "send-proxy-v2");
    }

    /** The same, with the PROXY header version of HAProxy's {@code send-proxy} (v1) or {@code send-proxy-v2}. */
    static Haproxy start(Path dir, List<Integer> backendPorts, String sendProxy) throws IOException, InterruptedException {
        IOException last = null;
        for (int attempt = 0; attempt < 5; attempt++) {
            int port = freePort();
            Path socket = dir.resolve("haproxy-" + attempt + ".sock");
            Path config = dir.resolve("haproxy-" + attempt + ".cfg");
            StringBuilder cfg = new StringBuilder()
                    .append("global\n  stats socket ").append(socket).append(" level admin\n  maxconn 4000\n")
                    .append("defaults\n  mode tcp\n  timeout connect 5s\n  timeout client 60s\n  timeout server 60s\n")
                    .append("  retries 3\n  option redispatch\n")
                    .append("frontend fe\n  bind 127.0.0.1:").append(port).append("\n  default_backend be\n")
                    .append("backend be\n  balance roundrobin\n");
            for (int i = 0; i < backendPorts.size(); i++) {
                cfg.append("  server s").append(i + 1).append(" 127.0.0.1:").append(backendPorts.get(i))
                        .append(' ').append(sendProxy).append('\n');
            }
            Files.writeString(config, cfg);
            Path log = dir.resolve("haproxy-" + attempt + ".log");
            Process p = new ProcessBuilder("haproxy", "-db", "-f", config.toString())
                    .redirectErrorStream(true).redirectOutput(log.toFile()).start();
            Haproxy h = new Haproxy(p, socket, port, log);
            try {
                await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(50))
                        .until(() -> !p.isAlive() || h.statsAnswer("show info\n").contains("Pid:"));
            } catch (RuntimeException e) {
                h.close();
                throw e;
            }
            if (p.isAlive()) {
                return h;
            }
            h.close();
            last = new IOException("haproxy exited with " + p.exitValue() + ": " + Files.readString(log));
            // most likely the port was taken between choosing it and binding it: try another
        }
        throw last;
    }

    static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getByName("127.0.0.1"))) {
            return s.getLocalPort();
        }
    }

    InetSocketAddress address() {
        return new InetSocketAddress("127.0.0.1", port);
    }

    /** Sessions each backend server has had since start ({@code stot} of {@code show stat}), by name. */
    Map<String, Long> sessionsPerServer() throws IOException {
        Map<String, Long> sessions = new HashMap<>();
        String[] lines = statsAnswer("show stat\n").split("\n");
        if (lines.length == 0 || !lines[0].startsWith("# ")) {
            throw new IOException("unexpected 'show stat' answer: " + String.join("\n", lines));
        }
        List<String> columns = List.of(lines[0].substring(2).split(","));
        int name = columns.indexOf("svname");
        int total = columns.indexOf("stot");
        for (int i = 1; i < lines.length; i++) {
            String[] f = lines[i].split(",", -1);
            if (f.length > total && f[name].startsWith("s") && !f[name].isEmpty() && f[0].equals("be")) {
                sessions.put(f[name], Long.parseLong(f[total]));
            }
        }
        return sessions;
    }

    private String statsAnswer(String command) throws IOException {
        if (!Files.exists(statsSocket)) {
            return "";
        }
        try (SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX)) {
            ch.connect(UnixDomainSocketAddress.of(statsSocket));
            ch.write(ByteBuffer.wrap(command.getBytes(StandardCharsets.US_ASCII)));
            ByteBuffer buf = ByteBuffer.allocate(1 << 20);
            while (ch.read(buf) >= 0 && buf.hasRemaining()) {
                // HAProxy closes after one answer
            }
            return new String(buf.array(), 0, buf.position(), StandardCharsets.US_ASCII);
        } catch (IOException e) {
            return "";
        }
    }

    String log() {
        try {
            return Files.exists(log) ? Files.readString(log) : "";
        } catch (IOException e) {
            return "(log unreadable: " + e + ")";
        }
    }

    @Override
    public void close() {
        process.destroy();
        try {
            if (!process.waitFor(10, TimeUnit.SECONDS)) {
                process.destroyForcibly();
                process.waitFor(30, TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
        }
    }
}
