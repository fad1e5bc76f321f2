using System.Diagnostics;
using EmbeddingGemma.Evaluation.Models;
using EmbeddingGemma.Evaluation.Reports;
using EmbeddingGemma.Evaluation.Tasks;

namespace EmbeddingGemma.Evaluation;

/// <summary>Runs tasks for one or several models and builds the report (means, retention).</summary>
public static class EvaluationRunner
{
    /// <summary>Default Matryoshka sizes, as the model card evaluates them.</summary>
    public static readonly int[] DefaultDimensions = [768, 512, 256, 128];

    public static async Task<EvalReport> RunAsync(
        IReadOnlyList<EvalModel> models,
        IReadOnlyList<EvalTask> tasks,
        IReadOnlyList<int>? dimensions = null,
        string? dataRoot = null,
        int seed = 42,
        int batchSize = 32,
        Action<string>? log = null,
        IProgress<EncodingProgress>? encodeProgress = null,
        CancellationToken cancellationToken = default,
        bool shuffleLabels = false)
    {
        dimensions ??= DefaultDimensions;
        var reports = new List<ModelReport>();
        foreach (var model in models)
        {
            var sw = Stopwatch.StartNew();
            var cache = model.Generator is null ? null : new EmbeddingCache(model.Generator, batchSize, encodeProgress);
            var context = new EvalContext(model, dimensions, cache, seed) { ShuffleLabels = shuffleLabels };
            var results = new List<TaskResult>();
            foreach (var task in tasks)
            {
                log?.Invoke($"[{model.Name}] {task.Name} ({task.Type}) ...");
                var r = await task.RunAsync(context, cancellationToken).ConfigureAwait(false);
                results.Add(r);
                var best = r.Scores.FirstOrDefault();
                log?.Invoke(best is null
                    ? $"[{model.Name}] {task.Name}: {r.Note}"
                    : $"[{model.Name}] {task.Name}: {r.MainMetric} = {100 * best.MainScore:F2} at {best.Dimensions?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "lexical"} ({r.Note}; {r.Seconds:F1} s)");
            }
            var means = EvalReport.ComputeMeans(results);
            var partial = new ModelReport(model.Name, cache?.NativeDimensions, cache?.EncodedCount ?? 0, sw.Elapsed.TotalSeconds, results, means, []) { Architecture = model.Architecture };
            // Retention is relative to the first embedding model (the lexical baseline has no sizes to compare).
            var reference = model.IsLexical ? null : reports.FirstOrDefault(r => r.NativeDimensions is not null);
            reports.Add(partial with { Retention = EvalReport.ComputeRetention(means, reference) });
        }
        return new EvalReport(dataRoot, dimensions, DateTime.UtcNow, reports);
    }
}
