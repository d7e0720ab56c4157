package io.selectloop.echo;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.awaitility.Awaitility;
import org.awaitility.core.ConditionTimeoutException;

/**
 * Another process seen through {@code /proc/PID}: resident memory now and at its peak,
 * open descriptors, CPU time. Linux only, like the server's own descriptor handling.
 */
final class ProcessProbe {
    /** USER_HZ, the unit of utime and stime: 100 on every Linux kernel built for x86 and arm64. */
    static final long CLOCK_TICKS_PER_SECOND = 100;

    private final long pid;

    ProcessProbe(long pid) {
        this.pid = pid;
    }

    /** VmRSS: resident memory now. */
    long rssBytes() {
        return statusKilobytes("VmRSS:") * 1024;
    }

    /**
     * VmHWM: the most resident memory the process has ever had. The kernel keeps it, so a
     * short spike between two samples cannot be missed the way polling VmRSS would miss it.
     */
    long peakRssBytes() {
        return statusKilobytes("VmHWM:") * 1024;
    }

    /** Entries of /proc/PID/fd: every open descriptor, sockets, jars and pipes alike. */
    int openFileDescriptors() {
        try (Stream<Path> fds = Files.list(fdDirectory())) {
            return (int) fds.count();
        } catch (IOException e) {
            throw new IllegalStateException("cannot list " + fdDirectory() + " (has the process exited?)", e);
        }
    }

    /** utime + stime, in clock ticks. */
    long cpuTicks() {
        try {
            String stat = Files.readString(Path.of("/proc", Long.toString(pid), "stat"), StandardCharsets.UTF_8);
            // The command name in parentheses may hold spaces: count fields after its last ')'.
            String[] fields = stat.substring(stat.lastIndexOf(')') + 2).trim().split("\\s+");
            return Long.parseLong(fields[14 - 3]) + Long.parseLong(fields[15 - 3]);
        } catch (IOException e) {
            throw new IllegalStateException("cannot read /proc/" + pid + "/stat", e);
        }
    }

    /**
     * Waits until the process has at most {@code baseline} descriptors open: after the
     * peers of a scenario are gone, every socket they had must be closed on the server too.
     */
    void awaitFileDescriptorsAtMost(int baseline, Duration atMost) {
        try {
            Awaitility.await().atMost(atMost).pollInterval(Duration.ofMillis(50))
                    .until(() -> openFileDescriptors() <= baseline);
        } catch (ConditionTimeoutException e) {
            throw new AssertionError("the server still has " + openFileDescriptors() + " descriptors open, its baseline is "
                    + baseline + ": " + describeFileDescriptors(), e);
        }
    }

    /** What the descriptors point to, grouped and counted (sockets by kind only), for failure messages. */
    Map<String, Long> describeFileDescriptors() {
        try (Stream<Path> fds = Files.list(fdDirectory())) {
            return fds.map(fd -> {
                try {
                    return Files.readSymbolicLink(fd).toString().replaceAll("\\[\\d+\\]", "[...]");
                } catch (IOException e) {
                    return "(closed while listing)";
                }
            }).collect(Collectors.groupingBy(t -> t, TreeMap::new, Collectors.counting()));
        } catch (IOException e) {
            return Map.of("cannot list " + fdDirectory(), 1L);
        }
    }

    /**
     * CPU seconds the process used over {@code window}. The wait is the measurement itself,
     * not a wait for something to happen: a server that spins shows as about a second of
     * CPU per second of window, one that sleeps as almost none.
     */
    double cpuSecondsOver(Duration window) throws InterruptedException {
        long before = cpuTicks();
        Thread.sleep(window.toMillis());
        return (cpuTicks() - before) / (double) CLOCK_TICKS_PER_SECOND;
    }

    private Path fdDirectory() {
        return Path.of("/proc", Long.toString(pid), "fd");
    }

    private long statusKilobytes(String field) {
        try {
            for (String line : Files.readAllLines(Path.of("/proc", Long.toString(pid), "status"), StandardCharsets.UTF_8)) {
                if (line.startsWith(field)) {
                    return Long.parseLong(line.substring(field.length()).trim().split("\\s+")[0]);
                }
            }
        } catch (IOException e) {
            throw new IllegalStateException("cannot read /proc/" + pid + "/status", e);
        }
        throw new IllegalStateException("no " + field + " in /proc/" + pid + "/status");
    }

    static long mebibytes(long bytes) {
        return bytes >> 20;
    }
}
