package io.selectloop.echo.files;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SafePathsTest {
    @TempDir
    Path dir;

    private FilesError refused(SafePaths paths, String path) {
        return assertThrows(FilesError.class, () -> paths.uploadTarget(path), path);
    }

    @Test
    void syntaxThatCouldEscapeOrHideIsRefusedBeforeTheFileSystemIsAsked() throws Exception {
        SafePaths paths = new SafePaths(Files.createDirectory(dir.resolve("root")));
        for (String path : new String[] {"..", "../x", "a/../../x", "/abs", "a//b", "a/", "./a", "a/./b", ".part", "a/.b",
                "nul\0", "new\nline", "del\u007f", "x".repeat(256), "a/".repeat(513) + "b"}) {
            assertEquals("BAD_PATH", refused(paths, path).code(), path);
        }
        assertEquals(paths.root().resolve("ok name"), paths.uploadTarget("ok name"));
        assertEquals(paths.root().resolve("\u00e9t\u00e9"), paths.uploadTarget("\u00e9t\u00e9"));
        assertEquals(paths.root().resolve("x".repeat(255)), paths.uploadTarget("x".repeat(255)));
    }

    @Test
    void symbolicLinksAreFollowedAndMustStayUnderTheRoot() throws Exception {
        Path root = Files.createDirectory(dir.resolve("root"));
        Path outside = Files.createDirectory(dir.resolve("outside"));
        Files.createDirectory(root.resolve("in"));
        Files.writeString(root.resolve("in/file"), "x");
        Files.createSymbolicLink(root.resolve("alias"), root.resolve("in"));
        Files.createSymbolicLink(root.resolve("escape"), outside);
        SafePaths paths = new SafePaths(root);
        assertEquals(paths.root().resolve("in/file"), paths.existingFile("alias/file"));
        assertEquals("BAD_PATH", assertThrows(FilesError.class, () -> paths.existing("escape")).code());
        assertEquals("BAD_PATH", refused(paths, "escape/new").code());
        assertEquals("BAD_PATH", refused(paths, "alias").code()); // a PUT never replaces a link
        assertEquals("NOT_FOUND", refused(paths, "missing/new").code());
        assertEquals("NOT_A_FILE", refused(paths, "in").code());
        assertEquals("NOT_A_FILE", assertThrows(FilesError.class, () -> paths.existingFile("in")).code());
    }
}
