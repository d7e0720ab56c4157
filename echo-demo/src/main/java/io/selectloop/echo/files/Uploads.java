package io.selectloop.echo.files;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.Set;
import java.util.stream.Stream;

/**
 * What uploads hold on the server beyond their connection: the files being written (one
 * writer per file: a second is refused with {@code BUSY}) and the partial files on disk
 * (at most {@code maxPartials}, counted from a scan of the root at start, so that peers
 * cannot fill the disk with abandoned {@code .part} files: a new one is refused with
 * {@code FULL}, resuming an existing one still works). Loop thread only.
 */
final class Uploads {
    private final Set<Path> writing = new HashSet<>();
    private final int maxPartials;
    private int partials;

    Uploads(Path root, int maxPartials) throws IOException {
        this.maxPartials = maxPartials;
        try (Stream<Path> files = Files.walk(root)) {
            partials = (int) files.filter(p -> isPartName(p.getFileName().toString())).count();
        }
    }

    static boolean isPartName(String name) {
        return name.startsWith(".") && name.endsWith(".part") && name.length() > ".x.part".length() - 1;
    }

    /** Claims {@code target} for one writer; false if another connection writes it. */
    boolean claim(Path target) {
        return writing.add(target);
    }

    void release(Path target) {
        writing.remove(target);
    }

    /** Counts a partial file about to be created; false if there are too many already. */
    boolean reservePartial() {
        if (partials >= maxPartials) {
            return false;
        }
        partials++;
        return true;
    }

    /** A partial file was renamed into place, deleted, or never created after all. */
    void partialGone() {
        partials--;
    }

    int partials() {
        return partials;
    }
}
