package io.selectloop.echo;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.PortUnreachableException;
import java.net.SocketTimeoutException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.ReadableByteChannel;
import java.nio.channels.SocketChannel;
import java.nio.channels.WritableByteChannel;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
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

    @Option(names = "--udp", description = "Send each line as one UDP datagram to --host:--port (the server's --udp-port) instead.")
    boolean udp;

    @Option(names = "--udp-timeout", defaultValue = "2", paramLabel = "SECONDS",
            description = "With --udp: how long to wait for each reply before sending the datagram again (default: ${DEFAULT-VALUE}).")
    double udpTimeoutSeconds;

    // ---- TLS (issue 10): the flags are shared with files ls|put|get (TlsFlags)
    @Mixin
    TlsFlags.Client tls = new TlsFlags.Client();

    /** A TLS socket to --host:--port: blocking, as the rest of this client, with the handshake done. */
    private SSLSocket connectTls() throws IOException {
        if (unixPath != null) {
            throw new IOException("--tls works over TCP only");
        }
        SSLContext context = tls.context();
        SSLSocket socket = (SSLSocket) context.getSocketFactory().createSocket();
        try {
            socket.connect(new InetSocketAddress(host, port));
            SSLParameters params = socket.getSSLParameters();
            if (tls.checksHostName()) {
                params.setEndpointIdentificationAlgorithm("HTTPS"); // the certificate must name --host
            }
            socket.setSSLParameters(params);
            socket.startHandshake();
            return socket;
        } catch (IOException e) {
            socket.close();
            throw new IOException("cannot connect to tls://" + host + ":" + port + ": " + e.getMessage(), e);
        }
    }

    /** UDP may lose a datagram or its reply: send again this many times before giving up. */
    private static final int UDP_ATTEMPTS = 3;

    @Override
    public Integer call() {
        try {
            return talk();
        } catch (IOException e) {
            // The server is not there or went away: a user error, not a crash.
            System.err.println("echo-demo client: " + e.getMessage());
            return 1;
        }
    }

    private int talk() throws IOException {
        PrintStream out = new PrintStream(System.out, true, StandardCharsets.UTF_8);
        if (udp) {
            return udpEcho(out);
        }
        if (tls.enabled()) {
            try (SSLSocket socket = connectTls();
                 BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8))) {
                return converse(in, Channels.newChannel(socket.getInputStream()),
                        Channels.newChannel(socket.getOutputStream()), out);
            }
        }
        try (SocketChannel channel = connect();
             BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8))) {
            int status = converse(in, channel, channel, out);
            if (status != 0) {
                return status;
            }
            channel.shutdownOutput();
            ByteBuffer rest = ByteBuffer.allocate(8192);
            while (channel.read(rest) >= 0) {
                rest.clear(); // the server echoes only what we sent, so nothing should arrive here
            }
        }
        return 0;
    }

    /** Sends each line of {@code in} and prints its echo; 1 if the server closed first. */
    private int converse(BufferedReader in, ReadableByteChannel channelIn, WritableByteChannel channelOut,
                         PrintStream out) throws IOException {
        {
            String line;
            while ((line = in.readLine()) != null) {
                byte[] text = line.getBytes(StandardCharsets.UTF_8);
                byte[] reply;
                if (framing == EchoServerCommand.FramingMode.length) {
                    ByteBuffer frame = ByteBuffer.allocate(4 + text.length).putInt(text.length).put(text);
                    writeFully(channelOut, frame.flip());
                    ByteBuffer header = readFully(channelIn, 4);
                    reply = header == null ? null : readPayload(channelIn, header.getInt());
                } else {
                    byte[] request = (line + "\n").getBytes(StandardCharsets.UTF_8);
                    writeFully(channelOut, ByteBuffer.wrap(request));
                    ByteBuffer echoed = readFully(channelIn, request.length);
                    reply = echoed == null ? null : Arrays.copyOf(echoed.array(), text.length);
                }
                if (reply == null) {
                    System.err.println("echo-demo client: the server closed the connection");
                    return 1;
                }
                out.println(new String(reply, StandardCharsets.UTF_8));
            }
        }
        return 0;
    }

    private int udpEcho(PrintStream out) throws IOException {
        try (DatagramSocket socket = new DatagramSocket(0, InetAddress.getByName(host));
             BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8))) {
            socket.connect(new InetSocketAddress(host, port));
            socket.setSoTimeout((int) Math.max(1, udpTimeoutSeconds * 1000));
            byte[] buffer = new byte[65536];
            String line;
            while ((line = in.readLine()) != null) {
                byte[] request = line.getBytes(StandardCharsets.UTF_8);
                String reply = null;
                for (int attempt = 0; attempt < UDP_ATTEMPTS && reply == null; attempt++) {
                    socket.send(new DatagramPacket(request, request.length));
                    reply = receiveEcho(socket, buffer, request);
                }
                if (reply == null) {
                    System.err.println("echo-demo client: no reply to a datagram after " + UDP_ATTEMPTS + " attempts");
                    return 1;
                }
                out.println(reply);
            }
        }
        return 0;
    }

    /** The reply to {@code request}, skipping late replies to earlier lines; null on timeout. */
    private static String receiveEcho(DatagramSocket socket, byte[] buffer, byte[] request) throws IOException {
        for (;;) {
            DatagramPacket packet = new DatagramPacket(buffer, buffer.length);
            try {
                socket.receive(packet);
            } catch (SocketTimeoutException e) {
                return null;
            } catch (PortUnreachableException e) {
                throw new IOException("nothing listens on udp://" + socket.getInetAddress().getHostAddress() + ":"
                        + socket.getPort(), e);
            }
            if (Arrays.equals(buffer, 0, packet.getLength(), request, 0, request.length)) {
                return new String(buffer, 0, packet.getLength(), StandardCharsets.UTF_8);
            }
        }
    }

    private SocketChannel connect() throws IOException {
        if (unixPath != null) {
            SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX);
            try {
                ch.connect(UnixDomainSocketAddress.of(unixPath));
            } catch (IOException e) {
                ch.close();
                throw new IOException("cannot connect to unix://" + unixPath.toAbsolutePath() + ": " + e.getMessage(), e);
            }
            return ch;
        }
        try {
            return SocketChannel.open(new InetSocketAddress(host, port));
        } catch (IOException e) {
            throw new IOException("cannot connect to tcp://" + host + ":" + port + ": " + e.getMessage(), e);
        }
    }

    /** Exactly {@code length} bytes, flipped for reading; null if the server closed first. */
    private static ByteBuffer readFully(ReadableByteChannel channel, int length) throws IOException {
        ByteBuffer buffer = ByteBuffer.allocate(length);
        while (buffer.hasRemaining()) {
            if (channel.read(buffer) < 0) {
                return null;
            }
        }
        return buffer.flip();
    }

    private static byte[] readPayload(ReadableByteChannel channel, int length) throws IOException {
        if (length < 0) {
            throw new IOException("the server sent a frame length of " + (length & 0xFFFF_FFFFL) + " bytes");
        }
        ByteBuffer payload = readFully(channel, length);
        return payload == null ? null : payload.array();
    }

    private static void writeFully(WritableByteChannel channel, ByteBuffer buffer) throws IOException {
        while (buffer.hasRemaining()) {
            channel.write(buffer);
        }
    }
}
