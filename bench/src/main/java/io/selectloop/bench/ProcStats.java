package io.selectloop.bench;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A process's resident memory, thread count and CPU time, read from
 * {@code /proc/PID/status} and {@code /proc/PID/stat} (Linux only).
 *
 * @param rssBytes  VmRSS
 * @param threads   Threads
 * @param cpuTicks  utime + stime, in clock ticks ({@link #CLOCK_TICKS_PER_SECOND} a second)
 */
record ProcStats(long rssBytes, int threads, long cpuTicks) {
    /** USER_HZ: 100 on every Linux this runs on; asked of getconf when it is there. */
    static final long CLOCK_TICKS_PER_SECOND = clockTicks();

    static ProcStats sample(long pid) throws IOException {
        long rss = -1;
        int threads = -1;
        for (String line : Files.readAllLines(Path.of("/proc", Long.toString(pid), "status"), StandardCharsets.UTF_8)) {
            if (line.startsWith("VmRSS:")) {
                rss = Long.parseLong(line.substring(6).trim().split("\\s+")[0]) * 1024;
            } else if (line.startsWith("Threads:")) {
                threads = Integer.parseInt(line.substring(8).trim());
            }
        }
        return new ProcStats(rss, threads, cpuTicks(Files.readString(Path.of("/proc", Long.toString(pid), "stat"))));
    }

    /** utime + stime from a {@code /proc/PID/stat} line; the command name may hold spaces and parentheses. */
    static long cpuTicks(String stat) {
        String afterName = stat.substring(stat.lastIndexOf(')') + 2);
        String[] fields = afterName.trim().split("\\s+");
        // afterName starts at field 3 (state); utime and stime are fields 14 and 15.
        return Long.parseLong(fields[14 - 3]) + Long.parseLong(fields[15 - 3]);
    }

    double cpuSecondsSince(ProcStats earlier) {
        return (cpuTicks - earlier.cpuTicks) / (double) CLOCK_TICKS_PER_SECOND;
    }

    private static long clockTicks() {
        try {
            Process p = new ProcessBuilder("getconf", "CLK_TCK").redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
            if (p.waitFor() == 0) {
                return Long.parseLong(out);
            }
        } catch (IOException | NumberFormatException e) {
            // fall through to the Linux default
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        return 100;
    }
}
