package io.selectloop.echo;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(name = "client", mixinStandardHelpOptions = true,
        description = "Send each line of stdin to the echo server and print each reply; exit at end of input.")
final class EchoClientCommand implements Callable<Integer> {

    @Option(names = "--host", defaultValue = "127.0.0.1", description = "Server address (default: ${DEFAULT-VALUE}).")
    String host;

    @Option(names = "--port", defaultValue = "7007", description = "Server port (default: ${DEFAULT-VALUE}).")
    int port;

    @Option(names = "--unix", paramLabel = "PATH", description = "Connect to this Unix domain socket instead of TCP.")
    Path unixPath;

    @Option(names = "--framing", defaultValue = "raw", paramLabel = "raw|line|length",
            description = "Speak the server's framing: raw and line send each line with its \\n; length sends each "
                    + "line as a frame of a 4-byte big-endian length and the line's bytes (default: ${DEFAULT-VALUE}).")
    EchoServerCommand.FramingMode framing;

    @Override
    public Integer call() throws IOException {
        PrintStream out = new PrintStream(System.out, true, StandardCharsets.UTF_8);
        try (SocketChannel channel = connect();
             BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8))) {
            String line;
            while ((line = in.readLine()) != null) {
                byte[] text = line.getBytes(StandardCharsets.UTF_8);
                byte[] reply;
                if (framing == EchoServerCommand.FramingMode.length) {
                    ByteBuffer frame = ByteBuffer.allocate(4 + text.length).putInt(text.length).put(text);
                    writeFully(channel, frame.flip());
                    ByteBuffer header = readFully(channel, 4);
                    reply = header == null ? null : readPayload(channel, header.getInt());
                } else {
                    byte[] request = (line + "\n").getBytes(StandardCharsets.UTF_8);
                    writeFully(channel, ByteBuffer.wrap(request));
                    ByteBuffer echoed = readFully(channel, request.length);
                    reply = echoed == null ? null : Arrays.copyOf(echoed.array(), text.length);
                }
                if (reply == null) {
                    System.err.println("echo-demo client: the server closed the connection");
                    return 1;
                }
                out.println(new String(reply, StandardCharsets.UTF_8));
            }
            channel.shutdownOutput();
            ByteBuffer rest = ByteBuffer.allocate(8192);
            while (channel.read(rest) >= 0) {
                rest.clear(); // the server echoes only what we sent, so nothing should arrive here
            }
        }
        return 0;
    }

    private SocketChannel connect() throws IOException {
        if (unixPath != null) {
            SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX);
            ch.connect(UnixDomainSocketAddress.of(unixPath));
            return ch;
        }
        return SocketChannel.open(new InetSocketAddress(host, port));
    }

    /** Exactly {@code length} bytes, flipped for reading; null if the server closed first. */
    private static ByteBuffer readFully(SocketChannel channel, int length) throws IOException {
        ByteBuffer buffer = ByteBuffer.allocate(length);
        while (buffer.hasRemaining()) {
            if (channel.read(buffer) < 0) {
                return null;
            }
        }
        return buffer.flip();
    }

    private static byte[] readPayload(SocketChannel channel, int length) throws IOException {
        if (length < 0) {
            throw new IOException("the server sent a frame length of " + (length & 0xFFFF_FFFFL) + " bytes");
        }
        ByteBuffer payload = readFully(channel, length);
        return payload == null ? null : payload.array();
    }

    private static void writeFully(SocketChannel channel, ByteBuffer buffer) throws IOException {
        while (buffer.hasRemaining()) {
            channel.write(buffer);
        }
    }
}
