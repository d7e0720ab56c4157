package io.selectloop.echo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The README's "Use it from Maven", done as a newcomer does it: its install command on a
 * copy of the project, then a separate project whose pom holds the README's dependency
 * snippet and whose code is the README's key-value recipe, built against the installed
 * artifact and run.
 */
class ReadmeMavenIT {
    private static final Path ROOT = Path.of(System.getProperty("selectloop.root", "..")).toAbsolutePath().normalize();

    @Test
    void aConsumerProjectBuiltFromTheReadmeCompilesAndRuns(@TempDir Path dir) throws Exception {
        String readme = Files.readString(ROOT.resolve("README.md"));

        // 1. The install command, on a clean copy (the build under way keeps its own target/).
        Path clone = dir.resolve("selectloop");
        copyProject(clone);
        String install = block(readme, "sh", "-pl core -am install");
        run(clone, List.of("bash", "-c", install.trim()));
        for (String suffix : List.of(".jar", "-sources.jar", "-javadoc.jar")) {
            Path installed = Path.of(System.getProperty("user.home"), ".m2", "repository", "io", "selectloop",
                    "selectloop-core", "0.1.0-SNAPSHOT", "selectloop-core-0.1.0-SNAPSHOT" + suffix);
            assertTrue(Files.isRegularFile(installed), "installed: " + installed);
        }

        // 2. A consumer: the README's dependency snippet and recipe, nothing else of ours.
        Path consumer = dir.resolve("consumer");
        Path sources = Files.createDirectories(consumer.resolve("src/main/java"));
        Files.writeString(sources.resolve("KvServer.java"), block(readme, "java", "class KvServer "));
        Files.writeString(consumer.resolve("pom.xml"), consumerPom(block(readme, "xml", "selectloop-core")));
        run(consumer, List.of("mvn", "-B", "-q", "compile", "dependency:build-classpath", "-Dmdep.outputFile=cp.txt"));

        // 3. It runs, serves, and its log lines reach the SLF4J provider the README told us to add.
        String classpath = consumer.resolve("target/classes") + java.io.File.pathSeparator
                + Files.readString(consumer.resolve("cp.txt")).trim();
        Process server = new ProcessBuilder(DemoProcess.java(), "-cp", classpath, "KvServer", "0")
                .redirectError(consumer.resolve("stderr.txt").toFile()).start();
        try {
            BufferedReader out = new BufferedReader(new InputStreamReader(server.getInputStream(), StandardCharsets.UTF_8));
            String listening = out.readLine();
            assertTrue(listening != null && listening.startsWith("listening on port "), "it said: " + listening);
            int port = Integer.parseInt(listening.substring("listening on port ".length()));
            try (Socket s = new Socket("127.0.0.1", port)) {
                OutputStream o = s.getOutputStream();
                BufferedReader in = new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.UTF_8));
                o.write("SET greeting hello world\nGET greeting\n".getBytes(StandardCharsets.UTF_8));
                assertEquals("OK", in.readLine());
                assertEquals("VALUE hello world", in.readLine());
                o.write(("SET x " + "y".repeat(5000) + "\n").getBytes(StandardCharsets.UTF_8));
                assertEquals("ERR line too long", in.readLine());
                assertEquals(null, in.readLine(), "then the connection closes");
            }
            org.awaitility.Awaitility.await().atMost(java.time.Duration.ofSeconds(60)).until(() ->
                    Files.readString(consumer.resolve("stderr.txt")).contains("INFO io.selectloop"));
        } finally {
            server.destroyForcibly();
            server.waitFor(60, TimeUnit.SECONDS);
        }
    }

    /** The project's poms and the core's sources: what the README's install command needs. */
    private static void copyProject(Path clone) throws IOException {
        for (String pom : List.of("pom.xml", "core/pom.xml", "echo-demo/pom.xml", "bench/pom.xml")) {
            Files.createDirectories(clone.resolve(pom).getParent());
            Files.copy(ROOT.resolve(pom), clone.resolve(pom));
        }
        Path from = ROOT.resolve("core/src/main");
        try (var files = Files.walk(from)) {
            for (Path f : (Iterable<Path>) files::iterator) {
                Path to = clone.resolve("core/src/main").resolve(from.relativize(f).toString());
                if (Files.isDirectory(f)) {
                    Files.createDirectories(to);
                } else {
                    Files.copy(f, to);
                }
            }
        }
    }

    /** The first fenced block of {@code language} in the README that contains {@code marker}. */
    private static String block(String readme, String language, String marker) {
        Matcher m = Pattern.compile("```" + language + "\\n(.*?)```", Pattern.DOTALL).matcher(readme);
        while (m.find()) {
            if (m.group(1).contains(marker)) {
                return m.group(1);
            }
        }
        throw new AssertionError("README.md has no ```" + language + " block containing " + marker);
    }

    /** A minimal pom around the README's snippet; the build plugins are pinned as ours are. */
    private static String consumerPom(String dependencies) {
        return "<project xmlns=\"http://maven.apache.org/POM/4.0.0\">\n"
                + "  <modelVersion>4.0.0</modelVersion>\n"
                + "  <groupId>example</groupId><artifactId>kv</artifactId><version>1</version>\n"
                + "  <properties><project.build.sourceEncoding>UTF-8</project.build.sourceEncoding></properties>\n"
                + "  <dependencies>\n" + dependencies + "  </dependencies>\n"
                + "  <build><plugins>\n"
                + "    <plugin><groupId>org.apache.maven.plugins</groupId><artifactId>maven-compiler-plugin</artifactId>"
                + "<version>3.14.1</version><configuration><release>17</release></configuration></plugin>\n"
                + "    <plugin><groupId>org.apache.maven.plugins</groupId><artifactId>maven-resources-plugin</artifactId>"
                + "<version>3.3.1</version></plugin>\n"
                + "    <plugin><groupId>org.apache.maven.plugins</groupId><artifactId>maven-dependency-plugin</artifactId>"
                + "<version>3.11.0</version></plugin>\n"
                + "  </plugins></build>\n"
                + "</project>\n";
    }

    private static void run(Path dir, List<String> command) throws Exception {
        Process p = new ProcessBuilder(command).directory(dir.toFile()).redirectErrorStream(true).start();
        String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(300, TimeUnit.SECONDS), "still running: " + command);
        assertEquals(0, p.exitValue(), command + " failed:\n" + output);
    }
}
