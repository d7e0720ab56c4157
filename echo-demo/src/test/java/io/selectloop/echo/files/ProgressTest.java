package io.selectloop.echo.files;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.selectloop.EventLoop;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class ProgressTest {
    private static String report(boolean terminal) throws Exception {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (EventLoop loop = EventLoop.start("progress-test")) {
            PrintStream out = new PrintStream(bytes, true, StandardCharsets.UTF_8);
            CompletableFuture<Void> done = new CompletableFuture<>();
            loop.execute(() -> {
                Progress progress = new Progress(loop, out, terminal, "get f");
                progress.start(4L << 20, 1L << 20);
                progress.advance(1L << 20);
                progress.finish();
                progress.finish(); // once only
                done.complete(null);
            });
            done.get(1, TimeUnit.MINUTES);
        }
        return bytes.toString(StandardCharsets.UTF_8);
    }

    @Test
    void aTerminalGetsOneBarRedrawnInPlace() throws Exception {
        String text = report(true);
        assertTrue(text.startsWith("\r["), text);
        assertTrue(text.contains("get f 2.0 MiB / 4.0 MiB  50.0% "), text);
        assertTrue(text.contains("/s ETA "), text);
        assertEquals(1, text.chars().filter(c -> c == '\n').count(), "one newline, at the end: " + text);
    }

    @Test
    void aPipeGetsPlainLines() throws Exception {
        String text = report(false);
        assertFalse(text.contains("\r"), text);
        assertTrue(text.startsWith("get f 2.0 MiB / 4.0 MiB  50.0% "), text);
        assertTrue(text.endsWith("\n"), text);
    }
}
