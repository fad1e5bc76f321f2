namespace EmbeddingGemma.Search.Clustering;

/// <summary>What <see cref="ClusterPlot.SavePng"/> did about fonts.</summary>
/// <param name="Path">The PNG file written.</param>
/// <param name="FontFile">The font file used for labels (null: ScottPlot's default font).</param>
/// <param name="LabelsReplacedByIndex">True when labels needed glyphs (e.g. CJK) that no available font has, so point numbers were drawn instead.</param>
public sealed record PlotOutcome(string Path, string? FontFile, bool LabelsReplacedByIndex);

/// <summary>
/// A PNG scatter plot (ScottPlot) of 2-D points coloured by cluster, optionally labelled. CJK labels need a CJK
/// font: the file in EMBEDDINGGEMMA_PLOT_FONT, else a known system location (Noto Sans CJK, WenQuanYi, Droid Sans
/// Fallback); when none is present such labels are replaced by the point's number instead of rendering as boxes.
/// </summary>
public static class ClusterPlot
{
    /// <summary>Environment variable naming a .ttf/.otf/.ttc font file for labels.</summary>
    public const string FontEnvironmentVariable = "EMBEDDINGGEMMA_PLOT_FONT";

    private static readonly string[] KnownCjkFonts =
    [
        "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
        "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
        "/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc",
        "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
        "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
        "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
        "/System/Library/Fonts/PingFang.ttc",
        "C:\\Windows\\Fonts\\msyh.ttc",
    ];

    public static PlotOutcome SavePng(string path, IReadOnlyList<double[]> points, IReadOnlyList<int> clusters, IReadOnlyList<string>? labels = null,
        string title = "Text clusters (PCA 2-D)", int width = 1000, int height = 800)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(points);
        ArgumentNullException.ThrowIfNull(clusters);
        if (points.Count != clusters.Count || (labels is not null && labels.Count != points.Count))
        {
            throw new EmbeddingGemmaException(ErrorKind.InvalidArgument, $"Plot needs one cluster (and label) per point: {points.Count} points, {clusters.Count} clusters, {labels?.Count} labels.");
        }
        string? fontFile = FindFont();
        string? fontName = null;
        if (fontFile is not null)
        {
            fontName = "EmbeddingGemmaPlotFont";
            ScottPlot.Fonts.AddFontFile(fontName, fontFile);
        }
        bool needsWideGlyphs = labels is not null && labels.Any(l => l.Any(c => c > '\u2E7F'));
        bool replace = needsWideGlyphs && fontFile is null;

        var plt = new ScottPlot.Plot();
        if (fontName is not null)
        {
            plt.Font.Set(fontName);
        }
        int k = clusters.Count == 0 ? 0 : clusters.Max() + 1;
        var palette = new ScottPlot.Palettes.Category10();
        for (int c = 0; c < k; c++)
        {
            var idx = Enumerable.Range(0, points.Count).Where(i => clusters[i] == c).ToArray();
            if (idx.Length == 0)
            {
                continue;
            }
            var sp = plt.Add.Scatter(idx.Select(i => points[i][0]).ToArray(), idx.Select(i => points[i][1]).ToArray());
            sp.LineWidth = 0;
            sp.MarkerSize = 12;
            sp.Color = palette.GetColor(c);
            sp.LegendText = $"cluster {c}";
        }
        for (int i = 0; i < points.Count; i++)
        {
            string text = labels is null || replace ? i.ToString(System.Globalization.CultureInfo.InvariantCulture) : labels[i];
            var t = plt.Add.Text(text, points[i][0], points[i][1]);
            t.LabelFontSize = 12;
            t.LabelOffsetX = 8;
            if (fontName is not null)
            {
                t.LabelFontName = fontName;
            }
        }
        plt.Title(title);
        plt.XLabel("principal component 1");
        plt.YLabel("principal component 2");
        plt.ShowLegend();
        var dir = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path));
        if (dir is not null)
        {
            Directory.CreateDirectory(dir);
        }
        plt.SavePng(path, width, height);
        return new PlotOutcome(path, fontFile, replace);
    }

    /// <summary>The CJK-capable font file that will be used, or null.</summary>
    public static string? FindFont()
    {
        var env = Environment.GetEnvironmentVariable(FontEnvironmentVariable);
        if (!string.IsNullOrEmpty(env))
        {
            return File.Exists(env) ? env : throw new EmbeddingGemmaException(ErrorKind.NotFound, $"{FontEnvironmentVariable}={env}: no such font file.") { FilePath = env };
        }
        return KnownCjkFonts.FirstOrDefault(File.Exists);
    }
}
