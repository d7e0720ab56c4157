package io.selectloop.echo;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.util.Arrays;
import java.util.concurrent.ThreadLocalRandom;

/**
 * A fresh, well-behaved client: connects, sends a few frames, and expects exactly those
 * bytes back. Reports instead of throwing, so a scenario can print its figure whatever
 * the outcome and assert afterwards.
 */
final class EchoProbe {
    private static final int FRAMES = 3;

    record Result(boolean served, String detail) {
        @Override
        public String toString() {
            return served ? "served (" + detail + ")" : "NOT served: " + detail;
        }
    }

    private EchoProbe() {
    }

    static Result roundTrip(InetSocketAddress server, Wire wire) {
        long started = System.nanoTime();
        int timeoutMillis = (int) HostileScale.patience().toMillis();
        try (Socket socket = new Socket()) {
            socket.connect(server, timeoutMillis);
            socket.setSoTimeout(timeoutMillis);
            socket.setTcpNoDelay(true);
            long first = ThreadLocalRandom.current().nextLong(1L << 40);
            byte[] request = new byte[FRAMES * wire.frameSize()];
            for (int i = 0; i < FRAMES; i++) {
                System.arraycopy(wire.frame(first + i), 0, request, i * wire.frameSize(), wire.frameSize());
            }
            OutputStream out = socket.getOutputStream();
            out.write(request);
            out.flush();
            InputStream in = socket.getInputStream();
            byte[] reply = in.readNBytes(request.length);
            if (!Arrays.equals(request, reply)) {
                return new Result(false, "sent " + request.length + " bytes, got back " + reply.length
                        + (reply.length == request.length ? " different ones" : ""));
            }
            return new Result(true, (System.nanoTime() - started) / 1_000_000 + "ms");
        } catch (IOException e) {
            return new Result(false, e.toString() + " after " + (System.nanoTime() - started) / 1_000_000 + " ms");
        }
    }
}
