package io.selectloop.echo;

import io.selectloop.Connection;
import io.selectloop.EventLoop;
import io.selectloop.EventLoopGroup;
import io.selectloop.FrameHandler;
import io.selectloop.Framing;
import io.selectloop.FramingException;
import io.selectloop.LoopMetrics;
import io.selectloop.OverLimit;
import io.selectloop.StreamOptions;
import io.selectloop.StreamServer;
import io.selectloop.TimerHandle;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;

/**
 * {@code GET /metrics} in the Prometheus text format, served by a small HTTP/1.1 handler on
 * the demo's own loops. Only what a scraper needs: {@code GET} and {@code HEAD} of
 * {@code /metrics} (200), any other path (404), any other method (405, then close);
 * keep-alive and pipelining as HTTP/1.1 has them; requests with a body are refused.
 *
 * <p>Hostile scrapers get little: a request line or header line longer than
 * {@link #MAX_LINE} bytes, more than {@link #MAX_HEADERS} headers or a malformed line is
 * answered 400 or 431 and the connection closed; a request must arrive whole within
 * {@link #REQUEST_DEADLINE} of its first byte, and a connection idle for
 * {@link #IDLE_TIMEOUT} is closed; at most {@link #MAX_CONNECTIONS} connections at once
 * (the next are answered 503 and closed); one that pipelines requests without reading the
 * answers is reset past {@link #MAX_UNREAD_ANSWERS}. So the endpoint holds at most about
 * 64 × (8 KiB of partial line + 256 KiB and one answer of output), and that comes out of the
 * loops' memory budget like any other.
 */
final class MetricsEndpoint {
    static final int MAX_LINE = 8 * 1024;
    static final int MAX_HEADERS = 64;
    static final Duration REQUEST_DEADLINE = Duration.ofSeconds(10);
    static final Duration IDLE_TIMEOUT = Duration.ofSeconds(60);
    static final int MAX_CONNECTIONS = 64;
    /**
     * Answers a connection may leave unread before it is reset. One read can hold thousands
     * of pipelined requests (a 25-byte request, a 7 KiB answer), and the frames of a read are
     * all delivered even after reading pauses: without this, 64 KiB of requests would queue
     * megabytes of answers. Prometheus never pipelines.
     */
    static final int MAX_UNREAD_ANSWERS = 256 * 1024;

    private static final Pattern REQUEST_LINE = Pattern.compile("([!#$%&'*+.^_`|~0-9A-Za-z-]+) (\\S+) HTTP/1\\.([01])");
    private static final Pattern HEADER = Pattern.compile("([!#$%&'*+.^_`|~0-9A-Za-z-]+):[ \\t]*(.*?)[ \\t]*");
    private static final byte[] BUSY = response(503, "Service Unavailable", "", true).getBytes(StandardCharsets.US_ASCII);

    private MetricsEndpoint() {
    }

    /** Binds the endpoint on {@code group}, its connections spread over the loops like the echo's. Any thread. */
    static StreamServer bind(EventLoopGroup group, InetSocketAddress address) throws IOException {
        Framing lines = Framing.lines(MAX_LINE);
        StreamOptions options = StreamOptions.builder()
                .allIdleTimeout(IDLE_TIMEOUT)
                .maxConnections(MAX_CONNECTIONS)
                .overLimit(OverLimit.REJECT)
                .overLimitMessage(BUSY)
                .build();
        return StreamServer.bind(group, address, options, () -> lines.handler(new Exchange(group, lines)));
    }

    /** The metrics of every loop of the group, now. Any thread. */
    static List<LoopMetrics> snapshot(EventLoopGroup group) {
        List<LoopMetrics> all = new ArrayList<>();
        for (EventLoop loop : group) {
            all.add(loop.metrics());
        }
        return all;
    }

    /** One connection: request line, headers, blank line, answer; again while kept alive. Loop thread only. */
    private static final class Exchange implements FrameHandler {
        private final EventLoopGroup group;
        private final Framing lines;
        private String method;
        private String path;
        private boolean keepAlive;
        private boolean hasBody;
        private int headers;
        private TimerHandle deadline;

        Exchange(EventLoopGroup group, Framing lines) {
            this.group = group;
            this.lines = lines;
        }

        @Override
        public void onFrame(Connection c, ByteBuffer frame) {
            String line = StandardCharsets.ISO_8859_1.decode(frame).toString();
            if (method == null) {
                requestLine(c, line);
            } else if (line.isEmpty()) {
                answer(c);
            } else {
                header(c, line);
            }
        }

        private void requestLine(Connection c, String line) {
            if (line.isEmpty()) {
                return; // RFC 9112 §2.2: a server should ignore empty lines before a request line
            }
            if (c.pendingWriteBytes() > MAX_UNREAD_ANSWERS) {
                c.abort(); // pipelining without reading: an amplifier, not a scraper
                return;
            }
            var m = REQUEST_LINE.matcher(line);
            if (!m.matches()) {
                refuse(c, 400, "Bad Request");
                return;
            }
            method = m.group(1);
            String target = m.group(2);
            int query = target.indexOf('?');
            path = query >= 0 ? target.substring(0, query) : target;
            keepAlive = m.group(3).equals("1");
            hasBody = false;
            headers = 0;
            deadline = c.loop().schedule(() -> {
                if (c.isOpen()) {
                    c.abort(); // a request that does not arrive in time: a slow or stuck scraper
                }
            }, REQUEST_DEADLINE.toMillis(), TimeUnit.MILLISECONDS);
        }

        private void header(Connection c, String line) {
            var m = HEADER.matcher(line);
            if (++headers > MAX_HEADERS || !m.matches()) {
                refuse(c, headers > MAX_HEADERS ? 431 : 400, headers > MAX_HEADERS ? "Request Header Fields Too Large" : "Bad Request");
                return;
            }
            String name = m.group(1).toLowerCase(java.util.Locale.ROOT);
            String value = m.group(2).toLowerCase(java.util.Locale.ROOT);
            if (name.equals("connection")) {
                if (value.contains("close")) {
                    keepAlive = false;
                } else if (value.contains("keep-alive")) {
                    keepAlive = true;
                }
            } else if (name.equals("transfer-encoding") || (name.equals("content-length") && !value.equals("0"))) {
                hasBody = true;
            }
        }

        private void answer(Connection c) {
            deadline.cancel();
            String m = method;
            method = null;
            if (hasBody) {
                refuse(c, 400, "Bad Request"); // no request here has a body, and skipping one is not worth the risk
                return;
            }
            boolean head = m.equals("HEAD");
            if (!m.equals("GET") && !head) {
                c.write(response(405, "Method Not Allowed", "only GET and HEAD\n", true, "Allow: GET, HEAD")
                        .getBytes(StandardCharsets.US_ASCII));
                c.close();
                return;
            }
            String reply;
            if (path.equals("/metrics")) {
                String body = PrometheusText.render(snapshot(group));
                reply = response(200, "OK", body, !keepAlive, "Content-Type: " + PrometheusText.CONTENT_TYPE);
                if (head) {
                    reply = reply.substring(0, reply.length() - body.length()); // the headers, Content-Length included
                }
            } else {
                reply = response(404, "Not Found", head ? "" : "try /metrics\n", !keepAlive);
            }
            c.write(reply.getBytes(StandardCharsets.UTF_8));
            if (!keepAlive) {
                c.close();
            }
        }

        private void refuse(Connection c, int status, String reason) {
            if (deadline != null) {
                deadline.cancel();
            }
            method = null;
            c.write(response(status, reason, "", true).getBytes(StandardCharsets.US_ASCII));
            c.close(); // after a malformed request nothing that follows can be trusted to be a request
        }

        @Override
        public void onFramingError(Connection c, FramingException e) {
            // A line over MAX_LINE: answered, and the connection closes with e as its cause.
            c.write(response(431, "Request Header Fields Too Large", "", true).getBytes(StandardCharsets.US_ASCII));
        }

        @Override
        public void onClose(Connection c, Throwable cause) {
            if (deadline != null) {
                deadline.cancel();
            }
        }
    }

    /** A whole response; the body counted in UTF-8 bytes. */
    static String response(int status, String reason, String body, boolean close, String... extraHeaders) {
        StringBuilder r = new StringBuilder(body.length() + 200);
        r.append("HTTP/1.1 ").append(status).append(' ').append(reason).append("\r\n");
        for (String h : extraHeaders) {
            r.append(h).append("\r\n");
        }
        if (extraHeaders.length == 0 || !extraHeaders[0].startsWith("Content-Type")) {
            r.append("Content-Type: text/plain; charset=utf-8\r\n");
        }
        r.append("Content-Length: ").append(body.getBytes(StandardCharsets.UTF_8).length).append("\r\n");
        if (close) {
            r.append("Connection: close\r\n");
        }
        return r.append("\r\n").append(body).toString();
    }
}
