package io.selectloop.echo.files;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The README's "Files" commands, run as printed (only {@code --port} added, so the test does
 * not depend on 7009 being free), from a directory laid out like a clone.
 */
class FilesReadmeIT {
    @TempDir
    Path clone;

    @Test
    void theReadmeCommandsWorkAsPrinted() throws Exception {
        Path repo = Path.of(System.getProperty("selectloop.root"));
        String readme = Files.readString(repo.resolve("README.md"), StandardCharsets.UTF_8);
        int section = readme.indexOf("## Files");
        int start = readme.indexOf("```sh\n", section) + "```sh\n".length();
        List<String> lines = readme.substring(start, readme.indexOf("```", start)).lines().toList();
        assertEquals(4, lines.size(), lines.toString());

        Files.createDirectories(clone.resolve("echo-demo/target"));
        Files.createSymbolicLink(clone.resolve("echo-demo/target/echo-demo.jar"), Path.of(System.getProperty("echoDemoJar")));
        Files.copy(repo.resolve("README.md"), clone.resolve("README.md"));
        int port;
        try (ServerSocket free = new ServerSocket(0)) {
            port = free.getLocalPort();
        }
        // The background job is a subshell (mkdir && java): stop its child, the server, too.
        List<String> script = new ArrayList<>(List.of("set -e", "trap 'pkill -P $SERVER; kill $SERVER' EXIT"));
        for (String line : lines) {
            String command = line.replaceAll("\\s+#.*$", "").trim();
            boolean background = command.endsWith("&");
            command = command.replaceAll("\\s*&$", "") + " --port " + port;
            if (background) {
                script.add(command + " > server.out 2> server.err &");
                script.add("SERVER=$!");
                script.add("until grep -q '^listening on' server.out; do sleep 0.1; done"); // the shell's own wait
            } else {
                script.add(command);
            }
        }
        Path log = clone.resolve("commands.out");
        Process shell = new ProcessBuilder("bash", "-c", String.join("\n", script)).directory(clone.toFile())
                .redirectErrorStream(true).redirectOutput(log.toFile()).start();
        if (!shell.waitFor(3, TimeUnit.MINUTES)) {
            shell.destroyForcibly();
            throw new AssertionError("the README's commands did not finish: " + Files.readString(log));
        }
        String output = Files.readString(log);
        assertEquals(0, shell.exitValue(), output);
        String sha = FilesFixture.sha256(clone.resolve("README.md"));
        assertEquals(2, output.lines().filter(l -> l.equals("SHA-256 verified: " + sha)).count(), output);
        long size = Files.size(clone.resolve("README.md"));
        assertTrue(output.lines().anyMatch(l -> l.matches("f\\s+" + size + "\\s+README.md")), output);
        assertEquals(Files.readString(clone.resolve("README.md")), Files.readString(clone.resolve("copy.md")));
        assertEquals(Files.readString(clone.resolve("README.md")), Files.readString(clone.resolve("share/README.md")));
    }
}
