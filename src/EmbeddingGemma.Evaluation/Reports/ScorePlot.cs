using EmbeddingGemma.Evaluation.Tasks;

namespace EmbeddingGemma.Evaluation.Reports;

/// <summary>
/// Score against embedding size (ScottPlot PNG), as the article plots it: per model, Mean (Task) as a solid line and
/// each task type's mean as a thin line; a lexical model (no size) is drawn as a horizontal dashed line.
/// </summary>
public static class ScorePlot
{
    public static void Save(EvalReport report, string path, int width = 1000, int height = 650)
    {
        var plot = new ScottPlot.Plot();
        var palette = new ScottPlot.Palettes.Category10();
        var allDims = report.Models.SelectMany(m => m.Means).Where(m => m.Dimensions is not null).Select(m => (double)m.Dimensions!.Value).Distinct().Order().ToArray();
        int colorIndex = 0;
        foreach (var model in report.Models)
        {
            var color = palette.GetColor(colorIndex++);
            var sized = model.Means.Where(m => m.Dimensions is not null).OrderBy(m => m.Dimensions).ToList();
            if (sized.Count > 0)
            {
                var xs = sized.Select(m => (double)m.Dimensions!.Value).ToArray();
                var mean = plot.Add.Scatter(xs, sized.Select(m => 100 * m.MeanTask).ToArray());
                mean.LegendText = $"{model.Model}: Mean (Task)";
                mean.Color = color;
                mean.LineWidth = 3;
                mean.MarkerSize = 8;
                foreach (var type in Enum.GetValues<EvalTaskType>().Select(t => t.ToString()))
                {
                    var pts = sized.Where(m => m.PerType.ContainsKey(type)).ToList();
                    if (pts.Count == 0)
                    {
                        continue;
                    }
                    var line = plot.Add.Scatter(pts.Select(m => (double)m.Dimensions!.Value).ToArray(), pts.Select(m => 100 * m.PerType[type]).ToArray());
                    line.LegendText = $"{model.Model}: {type}";
                    line.Color = color.WithAlpha(0.55);
                    line.LineWidth = 1;
                    line.MarkerSize = 4;
                    line.LinePattern = ScottPlot.LinePattern.Dotted;
                }
            }
            else if (model.Means.Count > 0 && allDims.Length > 0)
            {
                var h = plot.Add.HorizontalLine(100 * model.Means[0].MeanTask);
                h.LegendText = $"{model.Model}: Mean (Task), lexical";
                h.Color = color;
                h.LinePattern = ScottPlot.LinePattern.Dashed;
            }
        }
        if (allDims.Length > 0)
        {
            plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericManual(allDims, allDims.Select(d => d.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToArray());
        }
        plot.Title("Score vs embedding dimension (main metric x 100)");
        plot.XLabel("embedding dimension (Matryoshka truncation, renormalised)");
        plot.YLabel("score");
        plot.ShowLegend(ScottPlot.Edge.Right);
        var dir = Path.GetDirectoryName(Path.GetFullPath(path));
        if (!string.IsNullOrEmpty(dir))
        {
            Directory.CreateDirectory(dir);
        }
        plot.SavePng(path, width, height);
    }
}
