package io.selectloop.bench;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** Facts about the machine and the JVMs that a result depends on, for the report. */
final class Environment {
    private Environment() {
    }

    static void describeMachine(Map<String, Object> env) {
        env.put("date", ZonedDateTime.now().format(DateTimeFormatter.ISO_OFFSET_DATE_TIME));
        env.put("kernel", firstLine(Path.of("/proc/sys/kernel/osrelease"), System.getProperty("os.version")));
        env.put("os", System.getProperty("os.name") + " " + System.getProperty("os.arch"));
        env.put("cpus", Runtime.getRuntime().availableProcessors());
        env.put("cpu_model", cpuModel());
        env.put("memory_total", procField(Path.of("/proc/meminfo"), "MemTotal:"));
        env.put("max_open_files", procField(Path.of("/proc/self/limits"), "Max open files"));
        env.put("ephemeral_ports", firstLine(Path.of("/proc/sys/net/ipv4/ip_local_port_range"), "?").replaceAll("\\s+", "-"));
        env.put("generator_jdk", jdkOfThisJvm());
    }

    static String jdkOfThisJvm() {
        return System.getProperty("java.vm.name") + " " + System.getProperty("java.runtime.version")
                + " (" + System.getProperty("java.vendor") + ")";
    }

    /** The first line of {@code java -version} for the children's java. */
    static String jdkOf(String java) {
        try {
            Process p = new ProcessBuilder(java, "-version").redirectErrorStream(true).start();
            List<String> lines = new ArrayList<>();
            for (String line : new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).split("\n")) {
                if (!line.isBlank()) {
                    lines.add(line.trim());
                }
            }
            p.waitFor();
            return String.join("; ", lines);
        } catch (IOException e) {
            return "unknown (" + e.getMessage() + ")";
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return "unknown";
        }
    }

    private static String cpuModel() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/cpuinfo"), StandardCharsets.UTF_8)) {
                if (line.startsWith("model name")) {
                    return line.substring(line.indexOf(':') + 1).trim();
                }
            }
        } catch (IOException e) {
            // not Linux
        }
        return "unknown";
    }

    private static String procField(Path file, String prefix) {
        try {
            for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
                if (line.startsWith(prefix)) {
                    return line.substring(prefix.length()).trim().replaceAll("\\s+", " ");
                }
            }
        } catch (IOException e) {
            // not Linux
        }
        return "unknown";
    }

    private static String firstLine(Path file, String fallback) {
        try {
            return Files.readAllLines(file, StandardCharsets.UTF_8).get(0).trim();
        } catch (IOException | IndexOutOfBoundsException e) {
            return fallback;
        }
    }
}
