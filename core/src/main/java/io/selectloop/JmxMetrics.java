package io.selectloop;

import java.lang.management.ManagementFactory;
import java.lang.reflect.RecordComponent;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import javax.management.Attribute;
import javax.management.AttributeList;
import javax.management.AttributeNotFoundException;
import javax.management.DynamicMBean;
import javax.management.JMException;
import javax.management.MBeanAttributeInfo;
import javax.management.MBeanInfo;
import javax.management.MBeanServer;
import javax.management.ObjectName;

/**
 * The loops' metrics as JMX MBeans, for jconsole, VisualVM or a JMX exporter: one call
 * registers one read-only MBean per loop, named
 * {@code io.selectloop:type=EventLoop,name="<loop name>"}, whose attributes are the fields of
 * {@link LoopMetrics} (stream counters prefixed {@code streams}, closes by cause named
 * {@code closed_<cause>}). Each read takes a fresh snapshot. Optional: nothing is registered
 * unless this is called.
 *
 * <pre>{@code
 * try (AutoCloseable mbeans = JmxMetrics.register(group)) { ... }
 * }</pre>
 */
public final class JmxMetrics {
    private static final Map<String, Function<LoopMetrics, Object>> ATTRIBUTES = attributes();

    private JmxMetrics() {
    }

    /**
     * Registers an MBean for each of {@code loops} with the platform MBean server. Any thread.
     *
     * @return unregisters them when closed
     * @throws IllegalStateException if a loop's name is already registered (two loops with one name)
     */
    public static AutoCloseable register(Iterable<EventLoop> loops) {
        MBeanServer server = ManagementFactory.getPlatformMBeanServer();
        List<ObjectName> names = new ArrayList<>();
        try {
            for (EventLoop loop : loops) {
                ObjectName name = objectName(loop);
                server.registerMBean(new LoopMBean(loop), name);
                names.add(name);
            }
        } catch (JMException e) {
            unregister(server, names);
            throw new IllegalStateException("cannot register the loops' MBeans: " + e, e);
        }
        return () -> unregister(server, names);
    }

    /** {@link #register(Iterable)} for one loop. */
    public static AutoCloseable register(EventLoop loop) {
        return register(List.of(loop));
    }

    /** {@code io.selectloop:type=EventLoop,name="<loop name>"}. */
    public static ObjectName objectName(EventLoop loop) {
        try {
            return new ObjectName("io.selectloop:type=EventLoop,name=" + ObjectName.quote(loop.name()));
        } catch (JMException e) {
            throw new IllegalArgumentException(e);
        }
    }

    private static void unregister(MBeanServer server, List<ObjectName> names) {
        for (ObjectName name : names) {
            try {
                server.unregisterMBean(name);
            } catch (JMException alreadyGone) {
                // unregistered by someone else: nothing left to do
            }
        }
    }

    private static Map<String, Function<LoopMetrics, Object>> attributes() {
        Map<String, Function<LoopMetrics, Object>> a = new LinkedHashMap<>();
        for (RecordComponent c : LoopMetrics.class.getRecordComponents()) {
            if (c.getType() != StreamMetrics.class) {
                a.put(c.getName(), m -> read(c, m));
            }
        }
        for (RecordComponent c : StreamMetrics.class.getRecordComponents()) {
            if (c.getType() != Map.class) {
                String name = "streams" + Character.toUpperCase(c.getName().charAt(0)) + c.getName().substring(1);
                a.put(name, m -> read(c, m.streams()));
            }
        }
        for (CloseCause cause : CloseCause.values()) {
            a.put("closed_" + cause.label(), m -> m.streams().closed(cause));
        }
        return a;
    }

    private static Object read(RecordComponent c, Record r) {
        try {
            return c.getAccessor().invoke(r);
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException(e);
        }
    }

    /** One loop's read-only MBean. */
    private static final class LoopMBean implements DynamicMBean {
        private final EventLoop loop;

        LoopMBean(EventLoop loop) {
            this.loop = loop;
        }

        @Override
        public Object getAttribute(String attribute) throws AttributeNotFoundException {
            Function<LoopMetrics, Object> read = ATTRIBUTES.get(attribute);
            if (read == null) {
                throw new AttributeNotFoundException(attribute);
            }
            return read.apply(loop.metrics());
        }

        @Override
        public AttributeList getAttributes(String[] attributes) {
            LoopMetrics m = loop.metrics(); // one snapshot for all of them
            AttributeList list = new AttributeList();
            for (String name : attributes) {
                Function<LoopMetrics, Object> read = ATTRIBUTES.get(name);
                if (read != null) {
                    list.add(new Attribute(name, read.apply(m)));
                }
            }
            return list;
        }

        @Override
        public void setAttribute(Attribute attribute) throws AttributeNotFoundException {
            throw new AttributeNotFoundException(attribute.getName() + " is read-only");
        }

        @Override
        public AttributeList setAttributes(AttributeList attributes) {
            return new AttributeList();
        }

        @Override
        public Object invoke(String actionName, Object[] params, String[] signature) {
            throw new UnsupportedOperationException("no operations");
        }

        @Override
        public MBeanInfo getMBeanInfo() {
            LoopMetrics sample = loop.metrics();
            List<MBeanAttributeInfo> infos = new ArrayList<>();
            for (Map.Entry<String, Function<LoopMetrics, Object>> e : ATTRIBUTES.entrySet()) {
                String type = e.getValue().apply(sample).getClass().getName();
                infos.add(new MBeanAttributeInfo(e.getKey(), type, e.getKey() + " (see LoopMetrics)", true, false, false));
            }
            return new MBeanInfo(LoopMBean.class.getName(), "selectloop event loop " + loop.name(),
                    infos.toArray(new MBeanAttributeInfo[0]), null, null, null);
        }
    }
}
