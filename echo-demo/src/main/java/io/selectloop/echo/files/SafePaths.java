package io.selectloop.echo.files;

import static io.selectloop.echo.files.FilesProtocol.ERR_BAD_PATH;
import static io.selectloop.echo.files.FilesProtocol.ERR_NOT_A_FILE;
import static io.selectloop.echo.files.FilesProtocol.ERR_NOT_FOUND;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;

/**
 * Turns a client's path into a file under the root, or refuses it. Syntax first (no
 * absolute paths, no {@code .} or {@code ..}, no empty, hidden, over-long or control-character
 * components), then the file system: the real path, symbolic links followed, must stay under
 * the root's real path. A refused path touches nothing: only reads of metadata happen here.
 *
 * <p>What this does not stop: someone with a shell on the server swapping a directory for a
 * symbolic link between the check and the open. The threat here is the network peer, who can
 * create no links (it can only write regular files through {@code PUT}).
 */
final class SafePaths {
    private final Path root;

    /** @param root must exist; it is resolved to its real path once */
    SafePaths(Path root) throws IOException {
        this.root = root.toRealPath();
        if (!Files.isDirectory(this.root)) {
            throw new IOException(root + " is not a directory");
        }
    }

    Path root() {
        return root;
    }

    /**
     * Checks the syntax of a path the client sent; the empty path is the root itself, and
     * is allowed only where {@code allowRoot}.
     */
    static void checkSyntax(String path, boolean allowRoot) throws FilesError {
        if (path.isEmpty()) {
            if (allowRoot) {
                return;
            }
            throw new FilesError(ERR_BAD_PATH, "empty path");
        }
        if (path.getBytes(StandardCharsets.UTF_8).length > FilesProtocol.MAX_PATH_BYTES) {
            throw new FilesError(ERR_BAD_PATH, "path longer than " + FilesProtocol.MAX_PATH_BYTES + " bytes");
        }
        for (int i = 0; i < path.length(); i++) {
            char ch = path.charAt(i);
            if (ch == 0) {
                throw new FilesError(ERR_BAD_PATH, "path contains a NUL byte");
            }
            if (ch < 0x20 || ch == 0x7f) {
                throw new FilesError(ERR_BAD_PATH, "path contains a control character");
            }
        }
        if (path.startsWith("/")) {
            throw new FilesError(ERR_BAD_PATH, "absolute path; paths are relative to the served directory");
        }
        for (String name : path.split("/", -1)) {
            if (name.isEmpty()) {
                throw new FilesError(ERR_BAD_PATH, "empty path component (a doubled or trailing '/')");
            }
            if (name.equals("..") || name.equals(".")) {
                throw new FilesError(ERR_BAD_PATH, "'" + name + "' is not allowed in a path");
            }
            if (name.startsWith(".")) {
                throw new FilesError(ERR_BAD_PATH, "names starting with '.' are reserved for partial files");
            }
            if (name.getBytes(StandardCharsets.UTF_8).length > FilesProtocol.MAX_NAME_BYTES) {
                throw new FilesError(ERR_BAD_PATH, "a path component is longer than " + FilesProtocol.MAX_NAME_BYTES + " bytes");
            }
        }
    }

    /** An existing file or directory under the root, symbolic links followed and checked. */
    Path existing(String path) throws FilesError {
        checkSyntax(path, true);
        Path real;
        try {
            real = root.resolve(path).toRealPath();
        } catch (NoSuchFileException e) {
            throw new FilesError(ERR_NOT_FOUND, "no such file or directory: " + path);
        } catch (IOException e) {
            throw new FilesError(ERR_NOT_FOUND, "cannot resolve " + path + ": " + e.getMessage());
        }
        if (!real.startsWith(root)) {
            throw new FilesError(ERR_BAD_PATH, "path resolves outside the served directory (a symbolic link)");
        }
        return real;
    }

    /** An existing regular file under the root. */
    Path existingFile(String path) throws FilesError {
        Path real = existing(path);
        if (!Files.isRegularFile(real)) {
            throw new FilesError(ERR_NOT_A_FILE, path + " is not a regular file");
        }
        return real;
    }

    /**
     * Where an upload of {@code path} goes: its directory must exist under the root; the
     * name itself must not be a directory or a symbolic link (the rename would replace the
     * link, but a link there was not put there by a client).
     */
    Path uploadTarget(String path) throws FilesError {
        checkSyntax(path, false);
        int slash = path.lastIndexOf('/');
        String name = path.substring(slash + 1);
        Path directory = slash < 0 ? root : existing(path.substring(0, slash));
        if (!Files.isDirectory(directory)) {
            throw new FilesError(ERR_NOT_A_FILE, path.substring(0, slash) + " is not a directory");
        }
        Path target = directory.resolve(name);
        if (Files.isSymbolicLink(target)) {
            throw new FilesError(ERR_BAD_PATH, path + " is a symbolic link");
        }
        if (Files.isDirectory(target, LinkOption.NOFOLLOW_LINKS)) {
            throw new FilesError(ERR_NOT_A_FILE, path + " is a directory");
        }
        return target;
    }
}
