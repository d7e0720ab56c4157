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

    @Override
    public Integer call() throws IOException {
        PrintStream out = new PrintStream(System.out, true, StandardCharsets.UTF_8);
        try (SocketChannel channel = connect();
             BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8))) {
            String line;
            while ((line = in.readLine()) != null) {
                byte[] request = (line + "\n").getBytes(StandardCharsets.UTF_8);
                writeFully(channel, ByteBuffer.wrap(request));
                ByteBuffer reply = ByteBuffer.allocate(request.length);
                while (reply.hasRemaining()) {
                    if (channel.read(reply) < 0) {
                        System.err.println("echo-demo client: server closed the connection");
                        return 1;
                    }
                }
                out.print(new String(reply.array(), StandardCharsets.UTF_8));
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

    private static void writeFully(SocketChannel channel, ByteBuffer buffer) throws IOException {
        while (buffer.hasRemaining()) {
            channel.write(buffer);
        }
    }
}
