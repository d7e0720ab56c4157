package io.selectloop;

import static io.selectloop.TestSupport.anyLoopbackPort;
import static io.selectloop.TestSupport.connect;
import static io.selectloop.TestSupport.eventually;
import static io.selectloop.TestSupport.readFully;
import static io.selectloop.TestSupport.writeFully;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.util.Arrays;
import javax.management.MBeanServer;
import javax.management.ObjectName;
import org.junit.jupiter.api.Test;

/** The optional JMX view: one call registers, the attributes are live snapshots, close unregisters. */
class JmxMetricsTest {
    @Test
    void eachLoopIsAnMBeanWhoseAttributesAreItsMetrics() throws Exception {
        MBeanServer server = ManagementFactory.getPlatformMBeanServer();
        try (EventLoopGroup group = EventLoopGroup.start(2, "jmx")) {
            StreamServer echo = StreamServer.bind(group, anyLoopbackPort(), () -> (c, data) -> c.write(data));
            ObjectName first = JmxMetrics.objectName(group.loops().get(0));
            assertEquals("io.selectloop:type=EventLoop,name=\"jmx-0\"", first.toString());
            try (AutoCloseable registered = JmxMetrics.register(group)) {
                assertTrue(server.isRegistered(first));
                assertTrue(server.isRegistered(JmxMetrics.objectName(group.loops().get(1))));
                try (SocketChannel a = connect(echo.localAddress()); SocketChannel b = connect(echo.localAddress())) {
                    writeFully(a, ByteBuffer.wrap(new byte[10]));
                    writeFully(b, ByteBuffer.wrap(new byte[10]));
                    readFully(a, 10);
                    readFully(b, 10);
                    eventually().until(() -> (long) server.getAttribute(first, "streamsBytesRead") == 10
                            && (long) server.getAttribute(JmxMetrics.objectName(group.loops().get(1)), "streamsOpen") == 1);
                }
                assertEquals("jmx-0", server.getAttribute(first, "loop"));
                assertTrue((long) server.getAttribute(first, "iterations") > 0);
                assertTrue(server.getAttribute(first, "busyRatio") instanceof Double);
                assertTrue(Arrays.stream(server.getMBeanInfo(first).getAttributes())
                        .anyMatch(a -> a.getName().equals("closed_framing_error")));
            }
            assertFalse(server.isRegistered(first), "closing unregisters");
        }
    }
}
