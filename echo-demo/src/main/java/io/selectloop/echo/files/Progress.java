package io.selectloop.echo.files;

import io.selectloop.EventLoop;
import io.selectloop.TimerHandle;
import java.io.PrintStream;
import java.util.Locale;
import java.util.concurrent.TimeUnit;

/**
 * The client's progress report on stderr: on a terminal, one bar redrawn in place (bytes,
 * percent, rate, ETA) five times a second; otherwise (a pipe, a log file) one line every
 * few seconds, so a log is not flooded with carriage returns. Loop thread only: the
 * transfer advances it from its callbacks, and the redraw is a timer on the same loop.
 */
final class Progress {
    /** For tests and library use: reports nothing. */
    static final Progress NONE = new Progress(null, null, false, "");

    private final EventLoop loop;
    private final PrintStream out;
    private final boolean terminal;
    private final String label;
    private TimerHandle timer;
    private long total;
    private long done;
    private long startedAt;
    private long startBytes;
    private boolean finished;

    Progress(EventLoop loop, PrintStream out, boolean terminal, String label) {
        this.loop = loop;
        this.out = out;
        this.terminal = terminal;
        this.label = label;
    }

    void start(long totalBytes, long alreadyThere) {
        if (out == null) {
            return;
        }
        total = totalBytes;
        done = alreadyThere;
        startBytes = alreadyThere;
        startedAt = System.nanoTime();
        {
            long period = terminal ? 200 : 3000;
            timer = loop.scheduleAtFixedRate(this::render, period, period, TimeUnit.MILLISECONDS);
        }
    }

    void advance(long bytes) {
        if (out == null) {
            return;
        }
        done += bytes;
    }

    void finish() {
        if (finished || out == null) {
            return;
        }
        finished = true;
        if (timer != null) {
            timer.cancel();
            render();
            if (terminal) {
                out.println();
            }
        }
    }

    private void render() {
        double seconds = Math.max(1e-9, (System.nanoTime() - startedAt) / 1e9);
        double rate = (done - startBytes) / seconds;
        double fraction = total == 0 ? 1 : (double) done / total;
        String eta = rate <= 0 ? "--:--" : duration((total - done) / rate);
        String text = String.format(Locale.ROOT, "%s %s / %s %5.1f%% %s/s ETA %s", label, bytes(done), bytes(total),
                fraction * 100, bytes((long) rate), eta);
        if (terminal) {
            int width = 24;
            int filled = (int) (fraction * width);
            out.print("\r[" + "#".repeat(filled) + " ".repeat(width - filled) + "] " + text + "  ");
        } else {
            out.println(text);
        }
        out.flush();
    }

    static String bytes(long n) {
        String[] units = {"B", "KiB", "MiB", "GiB", "TiB"};
        double value = n;
        int unit = 0;
        while (value >= 1024 && unit < units.length - 1) {
            value /= 1024;
            unit++;
        }
        return unit == 0 ? n + " B" : String.format(Locale.ROOT, "%.1f %s", value, units[unit]);
    }

    private static String duration(double seconds) {
        long s = (long) Math.ceil(seconds);
        return s >= 3600 ? String.format(Locale.ROOT, "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60)
                : String.format(Locale.ROOT, "%d:%02d", s / 60, s % 60);
    }
}
