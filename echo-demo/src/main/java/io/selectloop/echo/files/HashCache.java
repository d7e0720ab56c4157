package io.selectloop.echo.files;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * SHA-256 of files already hashed, so that a file downloaded many times (or just uploaded)
 * is read once for its checksum, not once per download. Keyed by path, size, modification
 * time and inode: any replacement (our uploads rename a new inode into place) or change
 * misses. Bounded (least recently used out first). Thread-safe.
 */
final class HashCache {
    private final Map<String, String> entries;

    HashCache(int capacity) {
        entries = new LinkedHashMap<>(16, 0.75f, true) {
            @Override
            protected boolean removeEldestEntry(Map.Entry<String, String> eldest) {
                return size() > capacity;
            }
        };
    }

    static String key(Path file) throws IOException {
        BasicFileAttributes a = Files.readAttributes(file, BasicFileAttributes.class);
        return file + "|" + a.size() + "|" + a.lastModifiedTime().toMillis() + "|" + a.fileKey();
    }

    synchronized String get(String key) {
        return entries.get(key);
    }

    synchronized void put(String key, String sha256) {
        entries.put(key, sha256);
    }
}
