package io.selectloop.bench;

import java.awt.Color;
import java.awt.Graphics2D;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.ToDoubleFunction;
import javax.imageio.ImageIO;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.XYSeries;
import org.knowm.xchart.style.lines.SeriesLines;
import org.knowm.xchart.style.Styler;

/**
 * The report's PNG charts, drawn without a display: throughput (one panel per pipeline
 * depth), p99 latency (one panel per open-loop rate) and server RSS, each against the number of connections (log scale),
 * one line per implementation, the {@code c-epoll} physical limit dotted in black.
 */
final class Charts {
    private Charts() {
    }

    /** Draws every chart the rows have data for; returns the files written. */
    static List<Path> drawAll(Path dir, List<ResultRow> rows) throws IOException {
        System.setProperty("java.awt.headless", "true");
        List<Path> written = new ArrayList<>();
        List<ResultRow> throughput = rows.stream().filter(r -> r.scenario().equals("throughput")).toList();
        List<ResultRow> latency = rows.stream().filter(r -> r.scenario().equals("latency")).toList();
        List<ResultRow> held = rows.stream().filter(r -> r.scenario().equals("connections")).toList();

        if (!throughput.isEmpty()) {
            written.add(drawPanels(dir.resolve("throughput-vs-connections.png"), throughput, r -> (double) r.pipeline(),
                    depth -> String.format(java.util.Locale.ROOT, "Throughput (closed loop), pipeline %.0f", depth),
                    "msgs/s", ResultRow::msgsPerSec));
        }
        if (!latency.isEmpty()) {
            written.add(drawPanels(dir.resolve("p99-vs-connections.png"), latency, ResultRow::rate,
                    rate -> String.format(java.util.Locale.ROOT, "p99 latency (open loop, CO-corrected), %,.0f msgs/s", rate),
                    "p99 µs", ResultRow::p99Us));
        } else if (!throughput.isEmpty()) {
            written.add(draw(dir.resolve("p99-vs-connections.png"), "p99 latency (closed loop)", "p99 µs",
                    seriesByImplAndPipeline(throughput, ResultRow::p99Us)));
        }
        List<ResultRow> memory = !held.isEmpty() ? held : throughput;
        if (!memory.isEmpty()) {
            String title = !held.isEmpty() ? "Server RSS holding N connections (connections scenario)"
                    : "Server RSS at the end of each throughput run";
            written.add(draw(dir.resolve("rss-vs-connections.png"), title, "RSS MiB",
                    seriesByImpl(memory.stream().filter(r -> r.serverRssBytes() != null).toList(),
                            r -> r.serverRssBytes() / 1048576.0)));
        }
        written.removeIf(java.util.Objects::isNull);
        return written;
    }

    /**
     * One panel per value of {@code panelKey} (pipeline depth, open-loop rate), stacked in
     * one image: on a shared axis the pipeline-1 lines were squashed flat under the
     * pipeline-16 ones, an order of magnitude higher.
     */
    private static Path drawPanels(Path file, List<ResultRow> rows, ToDoubleFunction<ResultRow> panelKey,
                                   java.util.function.DoubleFunction<String> title, String yTitle,
                                   ToDoubleFunction<ResultRow> value) throws IOException {
        Map<Double, List<ResultRow>> byPanel = new TreeMap<>();
        rows.forEach(r -> byPanel.computeIfAbsent(panelKey.applyAsDouble(r), k -> new ArrayList<>()).add(r));
        List<BufferedImage> panels = new ArrayList<>();
        for (Map.Entry<Double, List<ResultRow>> e : byPanel.entrySet()) {
            XYChart chart = chart(title.apply(e.getKey()), yTitle, seriesByImpl(e.getValue(), value));
            panels.add(BitmapEncoder.getBufferedImage(chart));
        }
        int width = panels.stream().mapToInt(BufferedImage::getWidth).max().orElse(0);
        int height = panels.stream().mapToInt(BufferedImage::getHeight).sum();
        BufferedImage image = new BufferedImage(width, height, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = image.createGraphics();
        try {
            g.setColor(Color.WHITE);
            g.fillRect(0, 0, width, height);
            int y = 0;
            for (BufferedImage panel : panels) {
                g.drawImage(panel, 0, y, null);
                y += panel.getHeight();
            }
        } finally {
            g.dispose();
        }
        ImageIO.write(image, "png", file.toFile());
        return file;
    }

    private static Map<String, TreeMap<Integer, Double>> seriesByImpl(List<ResultRow> rows, ToDoubleFunction<ResultRow> y) {
        Map<String, TreeMap<Integer, Double>> series = new LinkedHashMap<>();
        for (ResultRow r : rows) {
            // several rows at one x (pipelines): keep the largest, the figure the scenario is about
            series.computeIfAbsent(r.impl(), k -> new TreeMap<>()).merge(r.connections(), y.applyAsDouble(r), Math::max);
        }
        return series;
    }

    private static Map<String, TreeMap<Integer, Double>> seriesByImplAndPipeline(List<ResultRow> rows,
                                                                               ToDoubleFunction<ResultRow> y) {
        Map<String, TreeMap<Integer, Double>> series = new LinkedHashMap<>();
        for (ResultRow r : rows) {
            series.computeIfAbsent(r.impl() + " (pipeline " + r.pipeline() + ")", k -> new TreeMap<>())
                    .put(r.connections(), y.applyAsDouble(r));
        }
        return series;
    }

    /** One colour per implementation in every chart, so that a reader can compare charts at a glance. */
    private static Color colorOf(String series) {
        String impl = series.contains(" (") ? series.substring(0, series.indexOf(" (")) : series;
        return switch (impl) {
            case "reactor" -> new Color(0x1F77B4);
            case "threads" -> new Color(0xFF7F0E);
            case "virtual" -> new Color(0x2CA02C);
            case "netty-nio" -> new Color(0xD62728);
            case "netty-epoll" -> new Color(0x9467BD);
            case CEpollEchoServer.NAME -> Color.BLACK;
            default -> new Color(Color.HSBtoRGB((impl.hashCode() & 0xFF) / 255f, 0.6f, 0.6f));
        };
    }

    private static Path draw(Path file, String title, String yTitle, Map<String, TreeMap<Integer, Double>> series)
            throws IOException {
        if (series.isEmpty()) {
            return null;
        }
        XYChart chart = chart(title, yTitle, series);
        String name = file.getFileName().toString();
        Path withoutExtension = file.resolveSibling(name.substring(0, name.length() - ".png".length()));
        BitmapEncoder.saveBitmap(chart, withoutExtension.toString(), BitmapEncoder.BitmapFormat.PNG);
        return file;
    }

    private static XYChart chart(String title, String yTitle, Map<String, TreeMap<Integer, Double>> series) {
        XYChart chart = new XYChartBuilder().width(960).height(600).title(title)
                .xAxisTitle("connections").yAxisTitle(yTitle).build();
        chart.getStyler().setLegendPosition(Styler.LegendPosition.OutsideE);
        chart.getStyler().setXAxisLogarithmic(true);
        // Latencies span orders of magnitude: on a linear axis one saturated impl's seconds
        // flattened every other line onto zero.
        chart.getStyler().setYAxisLogarithmic(yTitle.startsWith("p99"));
        chart.getStyler().setMarkerSize(7);
        chart.getStyler().setDecimalPattern("#,###.#");
        for (Map.Entry<String, TreeMap<Integer, Double>> s : series.entrySet()) {
            double[] xs = s.getValue().keySet().stream().mapToDouble(Integer::doubleValue).toArray();
            double[] ys = s.getValue().values().stream().mapToDouble(Double::doubleValue).toArray();
            XYSeries line = chart.addSeries(s.getKey(), xs, ys);
            Color color = colorOf(s.getKey());
            line.setLineColor(color);
            line.setMarkerColor(color);
            if (s.getKey().endsWith("(pipeline 1)")) {
                line.setLineStyle(SeriesLines.DASH_DASH);
            }
            if (s.getKey().startsWith(CEpollEchoServer.NAME)) {
                line.setLineStyle(SeriesLines.DOT_DOT); // the physical limit, not a contender
            }
        }
        return chart;
    }
}
