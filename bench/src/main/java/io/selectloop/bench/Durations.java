package io.selectloop.bench;

import java.time.Duration;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Parses and prints the short durations used on the command line: {@code 10s}, {@code 500ms}, {@code 2m}. */
final class Durations {
    private static final Pattern SHORT = Pattern.compile("(\\d+(?:\\.\\d+)?)(ms|s|m)?");

    private Durations() {
    }

    static Duration parse(String text) {
        Matcher m = SHORT.matcher(text.trim());
        if (!m.matches()) {
            try {
                return Duration.parse(text); // ISO-8601, e.g. PT1.5S
            } catch (RuntimeException e) {
                throw new IllegalArgumentException("not a duration: '" + text + "' (try 10s, 500ms or 2m)");
            }
        }
        double value = Double.parseDouble(m.group(1));
        String unit = m.group(2) == null ? "s" : m.group(2);
        double millis = switch (unit) {
            case "ms" -> value;
            case "m" -> value * 60_000;
            default -> value * 1000;
        };
        return Duration.ofNanos(Math.round(millis * 1_000_000));
    }

    static String format(Duration d) {
        long millis = d.toMillis();
        return millis % 1000 == 0 ? (millis / 1000) + "s" : millis + "ms";
    }
}
