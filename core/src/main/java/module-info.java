/**
 * selectloop: a single-threaded NIO reactor with asyncio-style connections. Everything
 * public is in {@link io.selectloop}; the implementation there is package-private, and the
 * library needs nothing but the SLF4J API (bind a provider to see its log).
 */
module io.selectloop {
    requires org.slf4j;
    // The default memory budget reads the JVM's MaxDirectMemorySize (HotSpotDiagnosticMXBean);
    // the optional JMX view of the metrics registers MBeans. Both ship with every JDK.
    requires java.management;
    requires jdk.management;

    exports io.selectloop;
}
