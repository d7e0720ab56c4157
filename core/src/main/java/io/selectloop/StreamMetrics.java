package io.selectloop;

import java.util.Collections;
import java.util.EnumMap;
import java.util.Map;

/**
 * A snapshot of stream connection counters: of one {@link StreamServer}
 * ({@link StreamServer#metrics()}) or of every stream connection of one loop
 * ({@link LoopMetrics#streams()}). Counters count from the server's bind or the loop's
 * start; take two snapshots and subtract for a rate. Values are at most one loop
 * iteration old, and the counters of one snapshot are not read at one instant (a
 * connection that opens and closes while the snapshot is taken may be counted in one and
 * not the other).
 *
 * @param open          connections open now (opened less closed)
 * @param opened        connections opened: accepted by a server, or connected by a client
 * @param accepted      of those, accepted by a server
 * @param rejected      peers refused at {@code maxConnections} with {@link OverLimit#REJECT} (never opened)
 * @param closedByCause connections closed, by category
 * @param bytesRead     bytes read from sockets
 * @param reads         read calls that returned data
 * @param bytesWritten  bytes written to sockets
 * @param writes        flushes that wrote something (each one gathering write call, or a few)
 * @param droppedWrites writes to a connection already closing or closed (or whose output was
 *                      shut): dropped, as asyncio drops them
 * @param droppedBytes  the bytes of those writes
 */
public record StreamMetrics(long open, long opened, long accepted, long rejected, Map<CloseCause, Long> closedByCause,
                            long bytesRead, long reads, long bytesWritten, long writes,
                            long droppedWrites, long droppedBytes) {

    public StreamMetrics {
        EnumMap<CloseCause, Long> copy = new EnumMap<>(CloseCause.class); // (EnumMap's copy constructor refuses an empty HashMap)
        copy.putAll(closedByCause);
        closedByCause = Collections.unmodifiableMap(copy);
    }

    /** Connections closed for this cause. */
    public long closed(CloseCause cause) {
        return closedByCause.getOrDefault(cause, 0L);
    }

    /** Connections closed, for any cause. */
    public long closed() {
        long n = 0;
        for (long v : closedByCause.values()) {
            n += v;
        }
        return n;
    }

    static StreamMetrics sum(Iterable<StreamCounters> blocks) {
        Sum sum = new Sum();
        for (StreamCounters b : blocks) {
            b.addTo(sum);
        }
        return sum.toMetrics();
    }

    /** Totals being added up from counter blocks. */
    static final class Sum {
        long opened, accepted, rejected, bytesRead, reads, bytesWritten, writes, droppedWrites, droppedBytes;
        final long[] closed = new long[CloseCause.count()];

        StreamMetrics toMetrics() {
            EnumMap<CloseCause, Long> byCause = new EnumMap<>(CloseCause.class);
            long closedTotal = 0;
            for (int i = 0; i < closed.length; i++) {
                byCause.put(CloseCause.at(i), closed[i]);
                closedTotal += closed[i];
            }
            // Read one after the other, not at one instant: never report fewer than none open.
            long open = Math.max(0, opened - closedTotal);
            return new StreamMetrics(open, opened, accepted, rejected, byCause, bytesRead, reads, bytesWritten, writes,
                    droppedWrites, droppedBytes);
        }
    }
}
