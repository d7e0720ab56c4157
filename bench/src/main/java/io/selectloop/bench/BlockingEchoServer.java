package io.selectloop.bench;

import java.io.IOException;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketException;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The classic blocking server: an accept loop on one thread and one thread per
 * connection, each copying its socket's input to its output with
 * {@link java.io.InputStream#transferTo} — the model of Python's
 * {@code socketserver.ThreadingTCPServer}. {@code threads} runs connections on platform
 * threads, {@code virtual} the very same code on virtual threads.
 *
 * <p>The module is compiled for Java 17, so the virtual-thread factory is looked up
 * reflectively at run time; on a JDK below 21 the {@code virtual} implementation reports
 * itself unavailable.
 *
 * <p>{@code threads-tls} is the same server on a JDK {@link javax.net.ssl.SSLServerSocket}
 * (blocking {@link javax.net.ssl.SSLSocket}s; each connection's thread does its handshake on
 * its first read).
 */
public final class BlockingEchoServer implements EchoServerImpl {
    /**
     * The same backlog as selectloop's default, rather than ServerSocket's 50, which
     * would make a connect storm of thousands wait for SYN retransmits.
     */
    static final int BACKLOG = 1024;

    private final String name;
    private final boolean virtual;
    private final boolean tls;

    private BlockingEchoServer(String name, boolean virtual, boolean tls) {
        this.name = name;
        this.virtual = virtual;
        this.tls = tls;
    }

    /** {@code threads}: one platform thread per connection. */
    public static BlockingEchoServer platformThreads() {
        return new BlockingEchoServer("threads", false, false);
    }

    /** {@code threads-tls}: one platform thread per connection, blocking {@code SSLSocket}s. */
    public static BlockingEchoServer platformThreadsTls() {
        return new BlockingEchoServer("threads-tls", false, true);
    }

    /** {@code virtual}: one virtual thread per connection (JDK 21+). */
    public static BlockingEchoServer virtualThreads() {
        return new BlockingEchoServer("virtual", true, false);
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public boolean tls() {
        return tls;
    }

    @Override
    public String unavailableReason() {
        if (!virtual) {
            return null;
        }
        try {
            virtualThreadFactory();
            return null;
        } catch (UnsupportedOperationException e) {
            return e.getMessage();
        }
    }

    @Override
    public RunningServer start(InetSocketAddress address, ServerSettings settings) throws Exception {
        ThreadFactory connectionThreads = virtual ? virtualThreadFactory() : platformThreadFactory();
        ServerSocket listener = tls
                ? settings.tlsKeysOrSelfSigned().context().getServerSocketFactory().createServerSocket()
                : new ServerSocket();
        listener.setReuseAddress(true);
        listener.bind(address, BACKLOG);
        Set<Socket> open = ConcurrentHashMap.newKeySet();
        Thread acceptor = new Thread(() -> acceptLoop(listener, connectionThreads, open), name + "-acceptor");
        acceptor.start();
        InetSocketAddress bound = (InetSocketAddress) listener.getLocalSocketAddress();
        return new RunningServer() {
            @Override
            public InetSocketAddress localAddress() {
                return bound;
            }

            @Override
            public void close() throws IOException {
                listener.close();
                for (Socket s : open) {
                    closeQuietly(s);
                }
            }
        };
    }

    private static void acceptLoop(ServerSocket listener, ThreadFactory connectionThreads, Set<Socket> open) {
        while (!listener.isClosed()) {
            Socket socket;
            try {
                socket = listener.accept();
            } catch (IOException e) {
                if (listener.isClosed()) {
                    return;
                }
                // EMFILE and friends: the pending connection stays queued, so do not spin on it.
                System.err.println("accept failed: " + e);
                pause();
                continue;
            }
            open.add(socket);
            Thread connectionThread;
            try {
                connectionThread = connectionThreads.newThread(() -> serve(socket, open));
                connectionThread.start();
            } catch (OutOfMemoryError | RuntimeException e) {
                // "unable to create native thread": the model's real limit; refuse this one.
                System.err.println("cannot start a thread for a connection: " + e);
                open.remove(socket);
                closeQuietly(socket);
            }
        }
    }

    private static void serve(Socket socket, Set<Socket> open) {
        try (socket) {
            socket.setTcpNoDelay(true);
            socket.getInputStream().transferTo(socket.getOutputStream());
        } catch (SocketException e) {
            // reset by the peer or closed by close(): the end of this connection, nothing more
        } catch (IOException e) {
            System.err.println("connection failed: " + e);
        } finally {
            open.remove(socket);
        }
    }

    private static void pause() {
        try {
            Thread.sleep(100);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static void closeQuietly(Socket socket) {
        try {
            socket.close();
        } catch (IOException ignored) {
            // closing for shutdown; nothing to report
        }
    }

    private static ThreadFactory platformThreadFactory() {
        AtomicLong ids = new AtomicLong();
        return task -> {
            Thread t = new Thread(task, "connection-" + ids.incrementAndGet());
            t.setDaemon(true);
            return t;
        };
    }

    /**
     * {@code Thread.ofVirtual().factory()}, called reflectively so that this class still
     * compiles for (and loads on) Java 17.
     *
     * @throws UnsupportedOperationException with the reason, on a JDK without (final) virtual threads
     */
    static ThreadFactory virtualThreadFactory() {
        String unavailable = "virtual threads need JDK 21 or newer; this JVM is " + Runtime.version();
        if (Runtime.version().feature() < 21) {
            // 19 and 20 have the method, but only as a preview feature.
            throw new UnsupportedOperationException(unavailable);
        }
        try {
            Object builder = Thread.class.getMethod("ofVirtual").invoke(null);
            Method factory = Class.forName("java.lang.Thread$Builder").getMethod("factory");
            return (ThreadFactory) factory.invoke(builder);
        } catch (NoSuchMethodException | ClassNotFoundException | IllegalAccessException e) {
            throw new UnsupportedOperationException(unavailable + " (" + e + ")");
        } catch (InvocationTargetException e) {
            throw new UnsupportedOperationException(unavailable + " (" + e.getCause() + ")");
        }
    }
}
