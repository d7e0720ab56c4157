package io.selectloop.bench;

import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/** Writes maps, lists, strings, numbers, booleans and nulls as JSON; enough for the reports. */
final class Json {
    private Json() {
    }

    static String write(Object value) {
        StringBuilder out = new StringBuilder();
        write(value, out, "", false);
        return out.toString();
    }

    static String writePretty(Object value) {
        StringBuilder out = new StringBuilder();
        write(value, out, "", true);
        return out.append('\n').toString();
    }

    private static void write(Object value, StringBuilder out, String indent, boolean pretty) {
        if (value == null) {
            out.append("null");
        } else if (value instanceof String s) {
            string(s, out);
        } else if (value instanceof Double || value instanceof Float) {
            double d = ((Number) value).doubleValue();
            if (Double.isNaN(d) || Double.isInfinite(d)) {
                out.append("null");
            } else if (d == Math.rint(d) && Math.abs(d) < 1e15) {
                out.append((long) d);
            } else {
                out.append(String.format(Locale.ROOT, "%.3f", d).replaceAll("0+$", "").replaceAll("\\.$", ""));
            }
        } else if (value instanceof Number || value instanceof Boolean) {
            out.append(value);
        } else if (value instanceof Map<?, ?> map) {
            String inner = indent + "  ";
            out.append('{');
            Iterator<? extends Map.Entry<?, ?>> it = map.entrySet().iterator();
            while (it.hasNext()) {
                Map.Entry<?, ?> e = it.next();
                if (pretty) {
                    out.append('\n').append(inner);
                }
                string(String.valueOf(e.getKey()), out);
                out.append(pretty ? ": " : ":");
                write(e.getValue(), out, inner, pretty);
                if (it.hasNext()) {
                    out.append(',');
                }
            }
            if (pretty && !map.isEmpty()) {
                out.append('\n').append(indent);
            }
            out.append('}');
        } else if (value instanceof List<?> list) {
            String inner = indent + "  ";
            out.append('[');
            for (int i = 0; i < list.size(); i++) {
                if (pretty) {
                    out.append('\n').append(inner);
                }
                write(list.get(i), out, inner, pretty);
                if (i < list.size() - 1) {
                    out.append(',');
                }
            }
            if (pretty && !list.isEmpty()) {
                out.append('\n').append(indent);
            }
            out.append(']');
        } else {
            string(value.toString(), out);
        }
    }

    private static void string(String s, StringBuilder out) {
        out.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> out.append("\\\"");
                case '\\' -> out.append("\\\\");
                case '\n' -> out.append("\\n");
                case '\r' -> out.append("\\r");
                case '\t' -> out.append("\\t");
                default -> {
                    if (c < 0x20) {
                        out.append(String.format(Locale.ROOT, "\\u%04x", (int) c));
                    } else {
                        out.append(c);
                    }
                }
            }
        }
        out.append('"');
    }
}
