package io.selectloop.echo;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * The one line a hostile-peer scenario prints about itself, {@code HOSTILE scenario=NAME
 * key=value ...}, so that figures can be grepped out of a build log. Printed before the
 * scenario's assertions, so a failing run still leaves its figure. Also appended to
 * {@code target/hostile-figures.txt} for docs/RELIABILITY.md.
 */
final class Figure {
    static final String PREFIX = "HOSTILE";

    private final StringBuilder line;

    private Figure(String scenario) {
        line = new StringBuilder(PREFIX).append(" scenario=").append(scenario);
    }

    static Figure of(String scenario) {
        return new Figure(scenario);
    }

    /** Values must not hold spaces: one token each keeps the line easy to parse. */
    Figure with(String key, Object value) {
        line.append(' ').append(key).append('=').append(String.valueOf(value).replace(' ', '_'));
        return this;
    }

    String line() {
        return line.toString();
    }

    void print() {
        String text = line();
        System.out.println(text);
        try {
            Path file = Path.of("target", "hostile-figures.txt");
            Files.createDirectories(file.getParent());
            Files.writeString(file, text + System.lineSeparator(), StandardCharsets.UTF_8,
                    StandardOpenOption.CREATE, StandardOpenOption.APPEND);
        } catch (IOException e) {
            System.out.println(PREFIX + " (could not append to target/hostile-figures.txt: " + e + ")");
        }
    }
}
