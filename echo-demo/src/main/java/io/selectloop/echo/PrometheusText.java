package io.selectloop.echo;

import io.selectloop.CloseCause;
import io.selectloop.LoopMetrics;
import io.selectloop.StreamMetrics;
import java.util.List;
import java.util.Locale;
import java.util.function.ToDoubleFunction;

/**
 * Loop metrics in the Prometheus text exposition format, version 0.0.4: one family per
 * counter, named {@code selectloop_*} in base units (seconds, bytes), counters ending in
 * {@code _total}, each sample labelled with its {@code loop}.
 */
final class PrometheusText {
    static final String CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

    private PrometheusText() {
    }

    static String render(List<LoopMetrics> loops) {
        StringBuilder out = new StringBuilder(8192);
        gauge(out, loops, "selectloop_connections_open", "Stream connections open now.", m -> m.streams().open());
        counter(out, loops, "selectloop_connections_accepted_total", "Connections accepted by servers.",
                m -> m.streams().accepted());
        counter(out, loops, "selectloop_connections_opened_total", "Connections opened, accepted or connected by clients.",
                m -> m.streams().opened());
        counter(out, loops, "selectloop_connections_rejected_total",
                "Peers refused at the connection limit (never opened).", m -> m.streams().rejected());
        family(out, "selectloop_connections_closed_total", "counter", "Connections closed, by cause.");
        for (LoopMetrics m : loops) {
            for (CloseCause cause : CloseCause.values()) {
                sample(out, "selectloop_connections_closed_total", m.loop(), ",cause=\"" + cause.label() + "\"",
                        m.streams().closed(cause));
            }
        }
        counter(out, loops, "selectloop_bytes_read_total", "Bytes read from stream sockets.", m -> m.streams().bytesRead());
        counter(out, loops, "selectloop_bytes_written_total", "Bytes written to stream sockets.",
                m -> m.streams().bytesWritten());
        counter(out, loops, "selectloop_reads_total", "Read calls that returned data.", m -> m.streams().reads());
        counter(out, loops, "selectloop_writes_total", "Flushes that wrote data.", m -> m.streams().writes());
        counter(out, loops, "selectloop_dropped_writes_total", "Writes to connections already closed, dropped.",
                m -> m.streams().droppedWrites());
        counter(out, loops, "selectloop_dropped_write_bytes_total", "Bytes of the writes dropped.",
                m -> m.streams().droppedBytes());
        counter(out, loops, "selectloop_datagrams_received_total", "Datagrams received.", LoopMetrics::datagramsReceived);
        counter(out, loops, "selectloop_datagrams_sent_total", "Datagrams sent.", LoopMetrics::datagramsSent);
        counter(out, loops, "selectloop_datagrams_dropped_total", "Datagrams dropped for a full send queue.",
                LoopMetrics::datagramsDropped);
        counter(out, loops, "selectloop_loop_iterations_total", "Loop iterations.", LoopMetrics::iterations);
        counter(out, loops, "selectloop_loop_callbacks_total", "Callbacks run (dispatches, tasks, timers).",
                LoopMetrics::callbacks);
        counter(out, loops, "selectloop_loop_busy_seconds_total", "Time the loop spent working, not asleep in select.",
                m -> m.busyNanos() / 1e9);
        counter(out, loops, "selectloop_loop_idle_seconds_total", "Time the loop spent asleep in select.",
                m -> m.idleNanos() / 1e9);
        counter(out, loops, "selectloop_loop_thread_cpu_seconds_total",
                "CPU time of the loop's thread (0 if the JVM cannot say); busy time well above it means waiting for a CPU.",
                m -> Math.max(0, m.threadCpuNanos()) / 1e9);
        gauge(out, loops, "selectloop_loop_busy_ratio", "Busy time over busy plus idle time, over the last second or so.",
                LoopMetrics::busyRatio);
        gauge(out, loops, "selectloop_loop_longest_callback_seconds", "The longest single callback so far.",
                m -> m.longestCallbackNanos() / 1e9);
        counter(out, loops, "selectloop_loop_blocked_total", "Callbacks the watchdog saw run past the blocked threshold.",
                LoopMetrics::blockedIncidents);
        gauge(out, loops, "selectloop_tasks_queued", "Tasks waiting in the loop's queue.", LoopMetrics::tasksQueued);
        counter(out, loops, "selectloop_tasks_run_total", "Tasks run.", LoopMetrics::tasksRun);
        gauge(out, loops, "selectloop_timers_pending", "Timers waiting.", LoopMetrics::timersPending);
        counter(out, loops, "selectloop_timers_fired_total", "Timer runs.", LoopMetrics::timersFired);
        gauge(out, loops, "selectloop_pool_chunks_in_use", "Pooled 16 KiB output chunks lent out.",
                LoopMetrics::poolChunksInUse);
        gauge(out, loops, "selectloop_pool_direct_chunks", "Direct chunks the pool has made.",
                LoopMetrics::poolDirectChunks);
        gauge(out, loops, "selectloop_memory_budget_used_bytes",
                "Memory budget in use (loops of one group share a budget and report the same figure).",
                LoopMetrics::budgetUsedBytes);
        gauge(out, loops, "selectloop_memory_budget_limit_bytes", "Memory budget limit.", LoopMetrics::budgetLimitBytes);
        return out.toString();
    }

    private static void counter(StringBuilder out, List<LoopMetrics> loops, String name, String help,
                                ToDoubleFunction<LoopMetrics> value) {
        family(out, name, "counter", help);
        for (LoopMetrics m : loops) {
            sample(out, name, m.loop(), "", value.applyAsDouble(m));
        }
    }

    private static void gauge(StringBuilder out, List<LoopMetrics> loops, String name, String help,
                              ToDoubleFunction<LoopMetrics> value) {
        family(out, name, "gauge", help);
        for (LoopMetrics m : loops) {
            sample(out, name, m.loop(), "", value.applyAsDouble(m));
        }
    }

    private static void family(StringBuilder out, String name, String type, String help) {
        out.append("# HELP ").append(name).append(' ').append(help).append('\n');
        out.append("# TYPE ").append(name).append(' ').append(type).append('\n');
    }

    private static void sample(StringBuilder out, String name, String loop, String moreLabels, double value) {
        out.append(name).append("{loop=\"").append(escape(loop)).append('"').append(moreLabels).append("} ")
                .append(format(value)).append('\n');
    }

    /** Integers without a fraction (most counters), others in Java's shortest round-trip form. */
    static String format(double value) {
        if (value == Math.rint(value) && Math.abs(value) < 1e15) {
            return Long.toString((long) value);
        }
        return Double.toString(value).toLowerCase(Locale.ROOT);
    }

    /** Label values escape backslash, double quote and newline. */
    static String escape(String value) {
        return value.replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n");
    }

    /** The same numbers in one line, for --stats. */
    static String statsLine(List<LoopMetrics> loops) {
        StringBuilder line = new StringBuilder("stats:");
        for (LoopMetrics m : loops) {
            StreamMetrics s = m.streams();
            line.append(String.format(Locale.ROOT,
                    " [%s open=%d accepted=%d closed=%d read=%dB written=%dB busy=%.2f cpu=%.1fs longest=%.1fms blocked=%d tasks=%d]",
                    m.loop(), s.open(), s.accepted(), s.closed(), s.bytesRead(), s.bytesWritten(), m.busyRatio(), m.threadCpuNanos() / 1e9,
                    m.longestCallbackNanos() / 1e6, m.blockedIncidents(), m.tasksQueued()));
        }
        if (!loops.isEmpty()) {
            line.append(String.format(Locale.ROOT, " budget=%d/%dB", loops.get(0).budgetUsedBytes(),
                    loops.get(0).budgetLimitBytes()));
        }
        return line.toString();
    }

}
