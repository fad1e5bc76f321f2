using System.Globalization;
using System.Text;
using EmbeddingGemma.Evaluation.Tasks;

namespace EmbeddingGemma.Evaluation.Reports;

/// <summary>
/// The console table, laid out like the article's: one row per task (main score ×100), one column per model and
/// size, then the means per task type, Mean (Task), Mean (TaskType), chance levels, and retention rows.
/// </summary>
public static class ReportTable
{
    public static string Render(EvalReport report)
    {
        var columns = new List<(ModelReport Model, int? Dims)>();
        foreach (var m in report.Models)
        {
            foreach (var size in m.Means.Select(x => x.Dimensions))
            {
                columns.Add((m, size));
            }
            if (m.Means.Count == 0)
            {
                columns.Add((m, null));
            }
        }
        var header = new List<string> { "task", "type", "metric" };
        header.AddRange(columns.Select(c => c.Model.Model + (c.Dims is null ? "" : " " + c.Dims.Value.ToString(CultureInfo.InvariantCulture))));
        header.Add("chance");
        var rows = new List<List<string>>();
        var taskNames = report.Models.SelectMany(m => m.Tasks.Select(t => t.Task)).Distinct().ToList();
        foreach (var name in taskNames)
        {
            var any = report.Models.SelectMany(m => m.Tasks).First(t => t.Task == name);
            var row = new List<string> { name, any.Type.ToString(), any.MainMetric };
            foreach (var (model, dims) in columns)
            {
                var t = model.Tasks.FirstOrDefault(x => x.Task == name);
                var s = t?.Scores.FirstOrDefault(x => x.Dimensions == dims);
                row.Add(s is null ? "-" : F(s.MainScore));
            }
            row.Add(any.ChanceLevel is { } c ? F(c) : "");
            rows.Add(row);
        }
        rows.Add([]);
        var types = Enum.GetValues<EvalTaskType>().Select(t => t.ToString())
            .Where(t => report.Models.Any(m => m.Means.Any(x => x.PerType.ContainsKey(t)))).ToList();
        foreach (var type in types)
        {
            var row = new List<string> { "mean " + type, "", "" };
            row.AddRange(columns.Select(c => Mean(c, m => m.PerType.TryGetValue(type, out var v) ? v : null)));
            row.Add("");
            rows.Add(row);
        }
        foreach (var (label, sel) in new (string, Func<MeanScores, double?>)[] { ("Mean (Task)", m => m.MeanTask), ("Mean (TaskType)", m => m.MeanTaskType) })
        {
            var row = new List<string> { label, "", "" };
            row.AddRange(columns.Select(c => Mean(c, sel)));
            row.Add("");
            rows.Add(row);
        }
        var countRow = new List<string> { "tasks in the means", "", "" };
        countRow.AddRange(columns.Select(c => c.Model.Means.FirstOrDefault(x => x.Dimensions == c.Dims)?.TaskCount.ToString(CultureInfo.InvariantCulture) ?? "0"));
        countRow.Add("");
        rows.Add(countRow);
        foreach (var reference in report.Models.SelectMany(m => m.Retention.Select(r => r.Reference)).Distinct())
        {
            var row = new List<string> { "retention vs " + reference, "%", "" };
            foreach (var (model, dims) in columns)
            {
                var r = model.Retention.FirstOrDefault(x => x.Reference == reference && x.Dimensions == dims);
                row.Add(r is null ? "" : r.MeanTaskPercent.ToString("F1", CultureInfo.InvariantCulture));
            }
            row.Add("");
            rows.Add(row);
        }

        var widths = header.Select((h, i) => Math.Max(h.Length, rows.Max(r => i < r.Count ? r[i].Length : 0))).ToArray();
        var sb = new StringBuilder();
        void Line(IReadOnlyList<string> cells)
        {
            for (int i = 0; i < widths.Length; i++)
            {
                var cell = i < cells.Count ? cells[i] : "";
                sb.Append(i < 3 ? cell.PadRight(widths[i]) : cell.PadLeft(widths[i]));
                sb.Append(i + 1 < widths.Length ? "  " : "");
            }
            sb.AppendLine();
        }
        Line(header);
        sb.AppendLine(new string('-', widths.Sum() + 2 * (widths.Length - 1)));
        foreach (var r in rows)
        {
            Line(r);
        }
        sb.AppendLine("Scores are the main metric x 100; '-' = not run (size larger than the model, or task not applicable).");
        return sb.ToString();

        static string Mean((ModelReport Model, int? Dims) c, Func<MeanScores, double?> sel)
        {
            var m = c.Model.Means.FirstOrDefault(x => x.Dimensions == c.Dims);
            return m is null || sel(m) is not { } v ? "-" : F(v);
        }
    }

    private static string F(double v) => (100 * v).ToString("F2", CultureInfo.InvariantCulture);
}
