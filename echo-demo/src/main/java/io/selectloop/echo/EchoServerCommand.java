package io.selectloop.echo;

import io.selectloop.Connection;
import io.selectloop.EventLoop;
import io.selectloop.Handler;
import io.selectloop.StreamOptions;
import io.selectloop.StreamServer;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.LongAdder;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(name = "server", mixinStandardHelpOptions = true,
        description = "Echo every byte back (the default command). Serves until SIGINT/SIGTERM, then shuts down gracefully.")
final class EchoServerCommand implements Callable<Integer> {
    private static final Logger log = LoggerFactory.getLogger("echo-demo");

    @Option(names = "--host", defaultValue = "127.0.0.1", description = "TCP address to listen on (default: ${DEFAULT-VALUE}).")
    String host;

    @Option(names = "--port", defaultValue = "7007", description = "TCP port; 0 picks a free one (default: ${DEFAULT-VALUE}).")
    int port;

    @Option(names = "--unix", paramLabel = "PATH", description = "Also listen on this Unix domain socket path.")
    Path unixPath;

    @Option(names = "--shutdown-timeout", defaultValue = "5", paramLabel = "SECONDS",
            description = "How long pending output may drain on shutdown (default: ${DEFAULT-VALUE}).")
    int shutdownTimeoutSeconds;

    final LongAdder connections = new LongAdder();
    final LongAdder bytes = new LongAdder();

    @Override
    public Integer call() throws Exception {
        EventLoop loop = EventLoop.start("echo-loop");
        List<StreamServer> servers = new ArrayList<>();
        try {
            servers.add(StreamServer.bind(loop, new InetSocketAddress(host, port), StreamOptions.defaults(), this::newHandler));
            if (unixPath != null) {
                servers.add(StreamServer.bind(loop, UnixDomainSocketAddress.of(unixPath), StreamOptions.defaults(), this::newHandler));
            }
        } catch (Exception e) {
            loop.close();
            System.err.println("echo-demo: cannot listen: " + e);
            return 1;
        }
        for (StreamServer server : servers) {
            System.out.println("listening on " + uri(server.localAddress()));
        }
        System.out.flush();

        CountDownLatch stop = new CountDownLatch(1);
        Signals.onTerminate(stop::countDown);
        stop.await();

        log.info("shutting down (up to {} s for pending output)", shutdownTimeoutSeconds);
        loop.shutdownGracefully(Duration.ofSeconds(shutdownTimeoutSeconds)).join();
        log.info("served {} connections, echoed {} bytes", connections.sum(), bytes.sum());
        return 0;
    }

    private Handler newHandler() {
        connections.increment();
        return new Handler() {
            @Override
            public void onData(Connection c, ByteBuffer data) {
                bytes.add(data.remaining());
                c.write(data);
            }
        };
    }

    static String uri(SocketAddress address) {
        if (address instanceof InetSocketAddress) {
            InetSocketAddress inet = (InetSocketAddress) address;
            String h = inet.getAddress().getHostAddress();
            if (h.indexOf(':') >= 0) {
                int scope = h.indexOf('%');
                h = "[" + (scope >= 0 ? h.substring(0, scope) : h) + "]";
            }
            return "tcp://" + h + ":" + inet.getPort();
        }
        if (address instanceof UnixDomainSocketAddress) {
            return "unix://" + ((UnixDomainSocketAddress) address).getPath().toAbsolutePath();
        }
        return String.valueOf(address);
    }
}
