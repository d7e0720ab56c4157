package io.selectloop;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.File;
import java.lang.module.ModuleDescriptor;
import java.lang.module.ModuleFinder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import javax.tools.JavaCompiler;
import javax.tools.ToolProvider;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** core as a named module: what it exports and reads, and a modular application using it from the module path. */
class ModuleTest {
    private static Path coreClasses() throws Exception {
        return Path.of(EventLoop.class.getProtectionDomain().getCodeSource().getLocation().toURI());
    }

    private static String slf4jApiJar() {
        return Arrays.stream(System.getProperty("java.class.path").split(File.pathSeparator))
                .filter(p -> p.contains("slf4j-api")).findFirst().orElseThrow();
    }

    @Test
    void theModuleExportsOnlyItsApiPackageAndReadsOnlySlf4jBeyondTheJdk() throws Exception {
        ModuleDescriptor module = ModuleFinder.of(coreClasses()).find("io.selectloop").orElseThrow().descriptor();
        assertEquals(Set.of("io.selectloop"),
                module.exports().stream().map(ModuleDescriptor.Exports::source).collect(Collectors.toSet()));
        assertTrue(module.exports().stream().noneMatch(ModuleDescriptor.Exports::isQualified));
        assertTrue(module.opens().isEmpty());
        Set<String> requires = module.requires().stream().map(ModuleDescriptor.Requires::name).collect(Collectors.toSet());
        assertEquals(Set.of("java.base", "org.slf4j", "java.management", "jdk.management"), requires);
    }

    @Test
    void aModularApplicationRunsAServerFromTheModulePath(@TempDir Path dir) throws Exception {
        Path src = dir.resolve("src");
        Files.createDirectories(src.resolve("app"));
        Files.writeString(src.resolve("module-info.java"), "module app { requires io.selectloop; }\n");
        Files.writeString(src.resolve("app/Main.java"), String.join("\n",
                "package app;",
                "import io.selectloop.*;",
                "import java.net.*;",
                "public class Main {",
                "    public static void main(String[] args) throws Exception {",
                "        EventLoop loop = EventLoop.start(\"modular\");",
                "        StreamServer server = StreamServer.bind(loop, new InetSocketAddress(\"127.0.0.1\", 0),",
                "                () -> (c, data) -> c.write(data));",
                "        try (Socket s = new Socket(\"127.0.0.1\", server.port())) {",
                "            s.getOutputStream().write(\"hi\".getBytes());",
                "            System.out.println(\"echoed \" + new String(s.getInputStream().readNBytes(2)));",
                "        }",
                "        System.out.println(\"module \" + EventLoop.class.getModule().getName()",
                "                + \" loop \" + loop.metrics().loop());",
                "        loop.close();",
                "    }",
                "}", ""));
        String modulePath = coreClasses() + File.pathSeparator + slf4jApiJar();
        Path out = dir.resolve("out");
        JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
        ByteArrayOutputStream diagnostics = new ByteArrayOutputStream();
        int rc = javac.run(null, null, diagnostics, "--module-path", modulePath, "-d", out.toString(),
                src.resolve("module-info.java").toString(), src.resolve("app/Main.java").toString());
        assertEquals(0, rc, "the modular application does not compile:\n" + diagnostics);

        Process app = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--module-path", out + File.pathSeparator + modulePath, "--module", "app/app.Main")
                .redirectError(ProcessBuilder.Redirect.DISCARD).start();
        String output = new String(app.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(app.waitFor(60, TimeUnit.SECONDS));
        assertEquals(0, app.exitValue(), output);
        assertEquals("echoed hi\nmodule io.selectloop loop modular\n", output);
    }
}
